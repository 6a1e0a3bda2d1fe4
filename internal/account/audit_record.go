package account

import (
	"context"

	"github.com/google/uuid"

	"accounts/ent"
)

// The actions of the audit trail: one row per change to an account,
// written in the transaction of the change.
const (
	// AuditSignedUp: a user signed up (actor: the new user).
	AuditSignedUp = "user.signed_up"
	// AuditCreated: an admin, or the command line, created a user.
	AuditCreated = "user.created"
	// AuditLoggedIn: a successful login (actor: the user). Failed logins
	// are not recorded here; the throttle counts them.
	AuditLoggedIn = "user.logged_in"
	// AuditPasswordChanged: a user changed their own password.
	AuditPasswordChanged = "user.password_changed"
	// AuditPasswordSet: an admin, or the command line, set a password.
	AuditPasswordSet = "user.password_set"
	// AuditRoleGranted and AuditRoleRevoked: a role raised or lowered.
	AuditRoleGranted = "user.role_granted"
	AuditRoleRevoked = "user.role_revoked"
	// AuditActivated and AuditDeactivated: is_active set or cleared.
	AuditActivated   = "user.activated"
	AuditDeactivated = "user.deactivated"
	// AuditSessionsRevoked: an admin, or the command line, ended all of a
	// user's sessions.
	AuditSessionsRevoked = "user.sessions_revoked"
	// AuditErased: the command line removed a deactivated user; the entry
	// has the id and no name.
	AuditErased = "user.erased"
	// AuditProfileChanged: a profile field changed; details hold each
	// changed field's value before (field.from) and after (field.to).
	AuditProfileChanged = "user.profile_changed"
	// AuditUnthrottled: the command line cleared a user's login budgets.
	AuditUnthrottled = "user.unthrottled"
	// AuditUserViewed: an admin read another user (once per admin and
	// user in readWindow).
	AuditUserViewed = "user.viewed"
	// AuditUsersListed: an admin listed users (once per admin and filter
	// in readWindow); no target.
	AuditUsersListed = "users.listed"
)

// AuditActions lists every action, for documentation and filters.
var AuditActions = []string{
	AuditSignedUp, AuditCreated, AuditLoggedIn, AuditPasswordChanged, AuditPasswordSet,
	AuditRoleGranted, AuditRoleRevoked, AuditActivated, AuditDeactivated, AuditSessionsRevoked,
	AuditErased, AuditProfileChanged, AuditLoggedOut, AuditSessionRevoked,
	AuditUnthrottled, AuditUserViewed, AuditUsersListed,
}

// Origin is where a change comes from, for the audit trail: the id and
// client address of an API request, or the operator of the command line.
type Origin struct {
	RequestID string
	Address   string
	// Operator is "OS user@host" for the command line; "" for the API.
	Operator string
}

type originKey struct{}

// WithOrigin returns ctx carrying o; the services record it with every
// change made with that context.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf returns the origin WithOrigin put in ctx, or the zero Origin.
func OriginOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}

// auditEntry is one row to record. actor nil means the operator of the
// command line (Origin.Operator); a target without an id means none (a
// list of users).
type auditEntry struct {
	action string
	actor  *User
	target User
	// details are short words and numbers, each in its JSON type.
	details map[string]any
}

// record writes e in tx, so the row commits or rolls back with the change
// it records. Nothing secret goes in: names, ids, roles and counts only.
func record(ctx context.Context, tx *ent.Tx, e auditEntry) error {
	o := OriginOf(ctx)
	c := tx.AuditEvent.Create().
		SetAction(e.action).
		SetTargetName(e.target.Username).
		SetRequestID(truncate(o.RequestID, 128)).
		SetClientAddress(truncate(o.Address, 64))
	if e.target.ID != uuid.Nil {
		c.SetTargetID(e.target.ID)
	}
	if e.actor != nil {
		c.SetActorID(e.actor.ID).SetActorName(e.actor.Username)
	} else {
		op := o.Operator
		if op == "" {
			op = "unknown"
		}
		c.SetActorName(truncate("cli:"+op, 160))
	}
	if len(e.details) > 0 {
		c.SetDetails(e.details)
	}
	return storageError(c.Exec(ctx), "")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// roleChange is the entry for a role moving from one to another.
func roleChange(actor *User, target User, from, to Role) auditEntry {
	action := AuditRoleGranted
	if to.rank() < from.rank() {
		action = AuditRoleRevoked
	}
	return auditEntry{action: action, actor: actor, target: target,
		details: map[string]any{"from": string(from), "to": string(to)}}
}

func sessionsEnded(n int) map[string]any {
	return map[string]any{"sessions_ended": n}
}

// countersCleared adds to details how many of the user's throttle
// counters a command cleared.
func countersCleared(details map[string]any, n int) map[string]any {
	details["counters_cleared"] = n
	return details
}
