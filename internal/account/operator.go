package account

import (
	"context"
	"strings"

	"accounts/ent"
	"accounts/ent/authsession"
	"accounts/ent/predicate"
	entuser "accounts/ent/user"
	"accounts/internal/throttle"
)

// Operator is break-glass access for whoever reaches the database with the
// service's configuration (the command line), the same trust as running
// migrations. It acts on any user, super admins included, outside the role
// hierarchy, but through the same transactions as the API: the target's
// row is locked, credential changes end the user's sessions and move the
// credential version, and every change is recorded in the audit trail with
// the operator (Origin.Operator in the context) as its actor. Only one
// rule binds it: the last active super admin is not deactivated or
// demoted unless forced, so someone can always manage the service.
type Operator struct{ users *Users }

// Operator returns the break-glass service on the users' database.
func (s *Users) Operator() *Operator { return &Operator{users: s} }

// Change is what a break-glass command did to a user.
type Change struct {
	// Before and After are the user before and after the command.
	Before, After User
	// Changed is false when the user already was as asked.
	Changed bool
	// SessionsEnded is how many sessions the command ended.
	SessionsEnded int
	// CountersCleared is how many throttle counters of the user the
	// command cleared.
	CountersCleared int
}

// ListFilter selects the users Operator.List returns.
type ListFilter struct {
	// Role, when set, keeps only users with this role.
	Role *Role
	// InactiveOnly keeps only deactivated users.
	InactiveOnly bool
}

// List returns every user matching f, oldest first.
func (o *Operator) List(ctx context.Context, f ListFilter) ([]User, error) {
	q := o.users.client.User.Query()
	if f.Role != nil {
		q = q.Where(entuser.RoleEQ(roleToEnt(*f.Role)))
	}
	if f.InactiveOnly {
		q = q.Where(entuser.IsActive(false))
	}
	rows, err := q.Order(entuser.ByCreatedAt(), entuser.ByID()).Select(userColumnNames()...).All(ctx)
	if err != nil {
		return nil, storageError(err, "")
	}
	users := make([]User, len(rows))
	for i, u := range rows {
		users[i] = fromEnt(u)
	}
	return users, nil
}

// SetPassword sets the password of the user named username, ends all of
// the user's sessions and clears the user's login budgets (Unthrottle), so
// that what strangers spent does not lock the owner out of the new
// password. Like CreateSuperAdmin, it refuses to hash with
// another pepper than the one the database's hashes show (CheckPepper).
func (o *Operator) SetPassword(ctx context.Context, username, pw string) (Change, error) {
	if msg := ValidatePassword(pw); msg != "" {
		return Change{}, &Error{Code: CodeValidationFailed, Message: "the password is invalid",
			Fields: []FieldError{{Field: "password", Message: msg}}}
	}
	if err := o.users.CheckPepper(ctx); err != nil {
		return Change{}, err
	}
	hash, err := o.users.hash(ctx, pw)
	if err != nil {
		return Change{}, err
	}
	return o.change(ctx, username, false, func(tx *ent.Tx, target User, c *Change) error {
		n, err := endCredentials(ctx, tx, target.ID, tx.User.UpdateOneID(target.ID).SetPasswordHash([]byte(hash)))
		if err != nil {
			return err
		}
		cleared, err := throttle.ClearUser(ctx, tx.ThrottleCounter, target.ID)
		if err != nil {
			return err
		}
		c.Changed, c.SessionsEnded, c.CountersCleared = true, n, cleared
		return record(ctx, tx, auditEntry{action: AuditPasswordSet, target: target, details: countersCleared(sessionsEnded(n), cleared)})
	})
}

// SetActive activates or deactivates the user named username; either ends
// the user's sessions, and activating also clears the user's login budgets
// (Unthrottle). Deactivating the last active super admin needs force.
func (o *Operator) SetActive(ctx context.Context, username string, active, force bool) (Change, error) {
	return o.change(ctx, username, !active, func(tx *ent.Tx, target User, c *Change) error {
		if target.IsActive == active {
			return nil
		}
		if !active {
			if err := lastSuperAdminGuard(ctx, tx, target, force); err != nil {
				return err
			}
		}
		c.Changed = true
		c.After.IsActive = active
		n, err := endCredentials(ctx, tx, target.ID, tx.User.UpdateOneID(target.ID).SetIsActive(active))
		if err != nil {
			return err
		}
		c.SessionsEnded = n
		if !active {
			return record(ctx, tx, auditEntry{action: AuditDeactivated, target: target, details: sessionsEnded(n)})
		}
		cleared, err := throttle.ClearUser(ctx, tx.ThrottleCounter, target.ID)
		if err != nil {
			return err
		}
		c.CountersCleared = cleared
		return record(ctx, tx, auditEntry{action: AuditActivated, target: target, details: countersCleared(sessionsEnded(n), cleared)})
	})
}

// RevokeSessions ends every session of the user named username. The
// credential version moves too, so a login verified before the revocation
// cannot open a session after it.
func (o *Operator) RevokeSessions(ctx context.Context, username string) (Change, error) {
	return o.change(ctx, username, false, func(tx *ent.Tx, target User, c *Change) error {
		n, err := endCredentials(ctx, tx, target.ID, tx.User.UpdateOneID(target.ID))
		if err != nil {
			return err
		}
		c.Changed, c.SessionsEnded = n > 0, n
		return record(ctx, tx, auditEntry{action: AuditSessionsRevoked, target: target, details: sessionsEnded(n)})
	})
}

// Erase removes the user named username from the database: the row, and
// with it (ON DELETE CASCADE) every session. Only a deactivated user is
// erased, so a typo cannot remove an account in use: the API's DELETE
// deactivates, and erasure is the second, deliberate step. The audit
// entry keeps the erased id, so the earlier entries about it can be
// found, and no personal data: no username, no display name.
func (o *Operator) Erase(ctx context.Context, username string) (Change, error) {
	return o.change(ctx, username, false, func(tx *ent.Tx, target User, c *Change) error {
		if target.IsActive {
			return Errorf(CodeForbidden, "%s is active; deactivate it first (users deactivate), then erase it", target.Username)
		}
		// Ent's delete of a user is a deactivation (SoftDeleteMixin), so
		// the row goes by SQL, in the same transaction.
		n, err := tx.AuthSession.Delete().Where(authsession.UserID(target.ID)).Exec(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, eraseUserSQL, target.ID); err != nil {
			return err
		}
		c.Changed, c.SessionsEnded = true, n
		return record(ctx, tx, auditEntry{action: AuditErased, target: User{ID: target.ID}, details: sessionsEnded(n)})
	})
}

// eraseUserSQL removes one user row.
var eraseUserSQL = "DELETE FROM " + entuser.Table + " WHERE " + entuser.FieldID + " = $1"

// Unthrottle clears the login budgets of the user named username: the
// failed logins of untrusted clients and of trusted devices, and the
// verifications, so the owner can log in at once. It reports in
// Change.CountersCleared how many counters there were; with none, nothing
// changed and nothing is recorded.
func (o *Operator) Unthrottle(ctx context.Context, username string) (Change, error) {
	return o.change(ctx, username, false, func(tx *ent.Tx, target User, c *Change) error {
		n, err := throttle.ClearUser(ctx, tx.ThrottleCounter, target.ID)
		if err != nil {
			return err
		}
		c.Changed, c.CountersCleared = n > 0, n
		if n == 0 {
			return nil
		}
		return record(ctx, tx, auditEntry{action: AuditUnthrottled, target: target, details: countersCleared(map[string]any{}, n)})
	})
}

// SetRole gives the user named username role. Demoting the last active
// super admin needs force. The user's sessions stay: each request reads
// the role afresh.
func (o *Operator) SetRole(ctx context.Context, username string, role Role, force bool) (Change, error) {
	if !role.Valid() {
		return Change{}, &Error{Code: CodeValidationFailed, Message: "the role is invalid",
			Fields: []FieldError{{Field: "role", Message: "must be user, admin or super_admin"}}}
	}
	return o.change(ctx, username, role != RoleSuperAdmin, func(tx *ent.Tx, target User, c *Change) error {
		if target.Role == role {
			return nil
		}
		if err := lastSuperAdminGuard(ctx, tx, target, force); err != nil {
			return err
		}
		c.Changed = true
		c.After.Role = role
		if err := tx.User.UpdateOneID(target.ID).SetRole(roleToEnt(role)).Exec(ctx); err != nil {
			return err
		}
		return record(ctx, tx, roleChange(nil, target, target.Role, role))
	})
}

// change locks the user named username (and, when guard is set, every
// active super admin, for lastSuperAdminGuard) in one statement in id
// order, the order the API's admin actions lock in, and runs apply on the
// locked user in the same transaction.
func (o *Operator) change(ctx context.Context, username string, guard bool, apply func(*ent.Tx, User, *Change) error) (Change, error) {
	var c Change
	err := withTx(ctx, o.users.client, func(tx *ent.Tx) error {
		q := tx.User.Query()
		if guard {
			q = q.Where(entuser.Or(usernameFold(username),
				entuser.And(activeSuperAdmin()...)))
		} else {
			q = q.Where(usernameFold(username))
		}
		rows, err := q.Order(entuser.ByID()).ForUpdate().All(ctx)
		if err != nil {
			return storageError(err, "")
		}
		var target *ent.User
		for _, u := range rows {
			if strings.EqualFold(u.Username, username) {
				target = u
			}
		}
		if target == nil {
			return Errorf(CodeUserNotFound, "no user is named %q", username)
		}
		c.Before = fromEnt(target)
		c.After = c.Before
		return storageError(apply(tx, c.Before, &c), CodeUserNotFound)
	})
	if err != nil {
		return Change{}, err
	}
	return c, nil
}

// lastSuperAdminGuard refuses to take target out of the active super
// admins when no other would be left, unless force. The caller holds the
// locks of every active super admin, so two operators removing the last
// two at once cannot both pass.
func lastSuperAdminGuard(ctx context.Context, tx *ent.Tx, target User, force bool) error {
	if force || target.Role != RoleSuperAdmin || !target.IsActive {
		return nil
	}
	others, err := tx.User.Query().
		Where(append(activeSuperAdmin(), entuser.IDNEQ(target.ID))...).
		Count(ctx)
	if err != nil {
		return err
	}
	if others == 0 {
		return Errorf(CodeForbidden, "%s is the last active super admin: after this nobody could manage admins; force it only if you mean to", target.Username)
	}
	return nil
}

func activeSuperAdmin() []predicate.User {
	return []predicate.User{entuser.RoleEQ(entuser.RoleSUPER_ADMIN), entuser.IsActive(true)}
}

// Lookup returns the user named username, in any letter case.
func (o *Operator) Lookup(ctx context.Context, username string) (User, error) {
	u, err := o.users.client.User.Query().Where(usernameFold(username)).Only(ctx)
	if ent.IsNotFound(err) {
		return User{}, Errorf(CodeUserNotFound, "no user is named %q", username)
	}
	if err != nil {
		return User{}, storageError(err, "")
	}
	return fromEnt(u), nil
}
