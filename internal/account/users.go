package account

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"accounts/ent"
	"accounts/ent/authsession"
	"accounts/ent/predicate"
	entuser "accounts/ent/user"
	"accounts/internal/database"
	"accounts/internal/password"
)

// Users is the user service: sign-up, the admin actions on users, and a
// user's own password.
type Users struct {
	client *ent.Client
	drv    dialect.Driver
	hasher *password.Hasher
	now    func() time.Time
	// maxKeys is how many idempotency keys a caller keeps
	// (MaxIdempotencyKeys).
	maxKeys int
	// reads remembers the admin reads recorded lately (audit_reads.go).
	reads *readLog
}

// NewUsers returns the user service on db.
func NewUsers(db *database.DB, hasher *password.Hasher) *Users {
	return &Users{client: db.Ent, drv: db.Driver, hasher: hasher, now: time.Now, maxKeys: MaxIdempotencyKeys, reads: &readLog{}}
}

// SignUp creates an active user with role user; n.Role must be "" or user.
func (s *Users) SignUp(ctx context.Context, n NewUser) (User, error) {
	if err := prepareCreate(nil, &n); err != nil {
		return User{}, err
	}
	return s.create(ctx, n, nil, false, nil)
}

// Create creates a user on behalf of caller; n.Role "" means user.
func (s *Users) Create(ctx context.Context, caller User, n NewUser) (User, error) {
	if err := prepareCreate(&caller, &n); err != nil {
		return User{}, err
	}
	return s.create(ctx, n, &caller, false, nil)
}

// prepareCreate sets the role of a sign-up (caller nil: user, and no
// other) or of an admin's create ("" means user), and authorizes the
// admin's: decided before the hash is paid for, and again on the locked
// caller (create).
func prepareCreate(caller *User, n *NewUser) error {
	if caller == nil {
		return n.fixRole(RoleUser)
	}
	if n.Role == "" {
		n.Role = RoleUser
	}
	return Authorize(*caller, ActionCreateUser, User{Role: n.Role})
}

// CreateSuperAdmin creates a super admin; n.Role must be "" or
// super_admin. Only the command line calls it: the API never creates one.
// It refuses when the database's hashes show that the command runs with
// another pepper than the server (CheckPepper).
func (s *Users) CreateSuperAdmin(ctx context.Context, n NewUser) (User, error) {
	if err := n.fixRole(RoleSuperAdmin); err != nil {
		return User{}, err
	}
	if err := s.CheckPepper(ctx); err != nil {
		return User{}, err
	}
	return s.create(ctx, n, nil, true, nil)
}

// PepperKeyID is the key id of the pepper the service hashes with ("" for
// none), as the hashes it writes carry it.
func (s *Users) PepperKeyID() string { return s.hasher.KeyID() }

// hashKeyIDsSQL counts the users by the key id their hash carries;
// hashes without one (no pepper, or written before key ids) are left out.
var hashKeyIDsSQL = fmt.Sprintf(`SELECT k, count(*) FROM (
  SELECT substring(encode(%[1]s, 'escape') from ',keyid=([A-Za-z0-9+/]+)\$') AS k FROM %[2]s
) h WHERE k IS NOT NULL GROUP BY k ORDER BY count(*) DESC, k`, entuser.FieldPasswordHash, entuser.Table)

// CheckPepper tells a command-line tool that hashes with another pepper
// than the server's apart from one that hashes as it does, when the
// database can tell: it fails, naming the key ids, when hashes in the
// database carry key ids and none is the service's, so the server could
// never verify a password written now. It reads every user's hash once.
func (s *Users) CheckPepper(ctx context.Context) error {
	rows, err := s.client.QueryContext(ctx, hashKeyIDsSQL)
	if err != nil {
		return storageError(err, "")
	}
	defer func() { _ = rows.Close() }() // a read: its error is rows.Err
	var found []string
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return storageError(err, "")
		}
		if k == s.hasher.KeyID() {
			return nil
		}
		found = append(found, fmt.Sprintf("key id %s: %d users", k, n))
	}
	if err := rows.Err(); err != nil {
		return storageError(err, "")
	}
	if len(found) == 0 {
		return nil
	}
	mine := "is empty (no key id)"
	if id := s.hasher.KeyID(); id != "" {
		mine = "(key id " + id + ")"
	}
	return fmt.Errorf("password.pepper %s is not the pepper the password hashes in this database were made with (%s): the server could never verify a password this command writes; run it with the server's password.pepper (ACCOUNTS_PASSWORD_PEPPER)",
		mine, strings.Join(found, ", "))
}

// create inserts a user. When an admin asks (caller not nil), the
// caller's role and state are read again in the inserting transaction,
// so a revoke that commits first also stops a request already under way.
// With a claim (CreateOnce), the key is taken in the same transaction
// before the insert, and the answer stored after it; a claim that an
// earlier request holds inserts nothing and leaves its answer in
// claim.answer.
func (s *Users) create(ctx context.Context, n NewUser, caller *User, operator bool, claim *onceClaim) (User, error) {
	if err := n.validate(); err != nil {
		return User{}, err
	}
	hash, err := s.hash(ctx, n.Password)
	if err != nil {
		return User{}, err
	}
	// No check-then-insert: the unique index on lower(username) decides,
	// so concurrent sign-ups of one name in any case get exactly one
	// success and username_taken for the rest.
	var u *ent.User
	err = withTx(ctx, s.client, func(tx *ent.Tx) error {
		if caller != nil {
			now, _, err := lockCallerAndTarget(ctx, tx, caller.ID, uuid.Nil)
			if err != nil {
				return err
			}
			if err := Authorize(now, ActionCreateUser, User{Role: n.Role}); err != nil {
				return err
			}
		}
		if claim != nil {
			if ok, err := claim.take(ctx, tx); !ok || err != nil {
				return err
			}
		}
		c := tx.User.Create().
			SetUsername(n.Username).
			SetPasswordHash([]byte(hash)).
			SetRole(roleToEnt(n.Role))
		if err := n.setOptional(c.Mutation()); err != nil {
			return err
		}
		u, err = c.Save(ctx)
		if err != nil {
			return storageError(err, "")
		}
		if claim != nil {
			if err := claim.store(ctx, tx, fromEnt(u)); err != nil {
				return err
			}
		}
		return record(ctx, tx, createdEntry(fromEnt(u), caller, operator))
	})
	if err != nil || u == nil {
		return User{}, err
	}
	return fromEnt(u), nil
}

// createdEntry is the audit entry of a new user: signed up (the user is
// the actor), or created by an admin or the operator.
func createdEntry(u User, caller *User, operator bool) auditEntry {
	details := map[string]any{"role": string(u.Role)}
	switch {
	case caller != nil:
		return auditEntry{action: AuditCreated, actor: caller, target: u, details: details}
	case operator:
		return auditEntry{action: AuditCreated, target: u, details: details}
	}
	return auditEntry{action: AuditSignedUp, actor: &u, target: u, details: details}
}

// hash hashes a password, turning a saturated hasher into a 503-style
// error. The hash waits for its slot as one of the request's client
// address (password.WithPrincipal).
func (s *Users) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.hasher.Hash(password.WithPrincipal(ctx, OriginOf(ctx).Address), pw)
	return h, hasherError(s.hasher, err)
}

func hasherError(h *password.Hasher, err error) error {
	if errors.Is(err, password.ErrBusy) {
		return &Error{Code: CodeServiceUnavailable, Message: "the server is busy; try again shortly",
			RetryAfter: h.RetryAfter(), cause: err}
	}
	return err
}

// Get returns one user, active or not, for an admin: p's caller, whom
// the API has authorized for ActionViewUsers (x-required-role). A user
// that Sessions.AuthenticateReading read with p's session is taken from
// p, with no statement of its own.
func (s *Users) Get(ctx context.Context, p Principal, id uuid.UUID) (User, error) {
	u, found := p.read.user, p.read.found
	if !p.read.read || p.read.id != id {
		var err error
		if u, found, err = userByID.run(ctx, s.drv, id); err != nil {
			return User{}, storageError(err, "")
		}
	}
	if !found {
		return User{}, notFoundError(CodeUserNotFound)
	}
	return u, s.viewed(ctx, p.User, u)
}

// ByID returns a user by id without any authorization: the admin actions
// read their target with it and authorize the caller on what it returns.
func (s *Users) ByID(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := s.client.User.Get(ctx, id)
	if err != nil {
		return User{}, storageError(err, CodeUserNotFound)
	}
	return fromEnt(u), nil
}

// SetPassword sets the password of a user that caller manages and ends
// all of that user's sessions, so whoever knew the old password is out.
func (s *Users) SetPassword(ctx context.Context, caller User, id uuid.UUID, pw string) error {
	var fe fieldErrors
	if msg := ValidatePassword(pw); msg != "" {
		fe.add("password", "%s", msg)
	}
	if err := fe.err(); err != nil {
		return err
	}
	// Authorize on the current row before paying for a hash, then again
	// under the row lock in case the role changed in between.
	target, err := s.ByID(ctx, id)
	if err != nil {
		return err
	}
	if err := Authorize(caller, ActionSetPassword, target); err != nil {
		return err
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return err
	}
	return withTx(ctx, s.client, func(tx *ent.Tx) error {
		caller, target, err := lockAuthorized(ctx, tx, caller.ID, id, ActionSetPassword)
		if err != nil {
			return err
		}
		n, err := endCredentials(ctx, tx, id, tx.User.UpdateOneID(id).SetPasswordHash([]byte(hash)))
		if err != nil {
			return storageError(err, CodeUserNotFound)
		}
		return record(ctx, tx, auditEntry{action: AuditPasswordSet, actor: &caller, target: target, details: sessionsEnded(n)})
	})
}

// endCredentials applies update (a change of the password or of
// is_active) with a new credential version, and ends every session of the
// user. Logins insert their session under a share lock of the user row and
// only at the version they verified, so once this commits no check made
// before it opens a session. It returns how many sessions ended.
func endCredentials(ctx context.Context, tx *ent.Tx, id uuid.UUID, update *ent.UserUpdateOne) (int, error) {
	if err := update.AddCredentialVersion(1).Exec(ctx); err != nil {
		return 0, err
	}
	return tx.AuthSession.Delete().Where(authsession.UserID(id)).Exec(ctx)
}

// SetAdmin grants (admin true) or revokes the admin role. It changes
// nothing, and writes nothing, when the user already has the role asked for.
func (s *Users) SetAdmin(ctx context.Context, caller User, id uuid.UUID, admin bool) error {
	action, want := ActionRevokeAdmin, RoleUser
	if admin {
		action, want = ActionGrantAdmin, RoleAdmin
	}
	return s.change(ctx, caller, id, action, func(tx *ent.Tx, caller, target User) error {
		if target.Role == want {
			return nil
		}
		if err := tx.User.UpdateOneID(id).SetRole(roleToEnt(want)).Exec(ctx); err != nil {
			return err
		}
		return record(ctx, tx, roleChange(&caller, target, target.Role, want))
	})
}

// SetActive activates or deactivates a user that caller manages. It
// changes nothing, and writes nothing, when the flag is already as asked.
// Either change ends all of the user's sessions: a deactivation to shut
// the user out, an activation because a session can only have been made
// from a check that predates the deactivation undone.
func (s *Users) SetActive(ctx context.Context, caller User, id uuid.UUID, active bool) error {
	action := ActionDeactivate
	if active {
		action = ActionActivate
	}
	return s.change(ctx, caller, id, action, func(tx *ent.Tx, caller, target User) error {
		if target.IsActive == active {
			return nil
		}
		return setActive(ctx, tx, &caller, target, active)
	})
}

// EndSessions ends every session of a user that caller manages, and
// records how many ended (also when none did: the admin asked).
func (s *Users) EndSessions(ctx context.Context, caller User, id uuid.UUID) error {
	return s.change(ctx, caller, id, ActionEndSessions, func(tx *ent.Tx, caller, target User) error {
		n, err := tx.AuthSession.Delete().Where(authsession.UserID(id)).Exec(ctx)
		if err != nil {
			return err
		}
		return record(ctx, tx, auditEntry{action: AuditSessionsRevoked, actor: &caller, target: target, details: sessionsEnded(n)})
	})
}

// setActive sets or clears is_active, ends the user's sessions and
// records the change; actor nil is the operator.
func setActive(ctx context.Context, tx *ent.Tx, actor *User, target User, active bool) error {
	n, err := endCredentials(ctx, tx, target.ID, tx.User.UpdateOneID(target.ID).SetIsActive(active))
	if err != nil {
		return err
	}
	action := AuditDeactivated
	if active {
		action = AuditActivated
	}
	return record(ctx, tx, auditEntry{action: action, actor: actor, target: target, details: sessionsEnded(n)})
}

// change runs one admin action on a user. It locks the target and the
// caller and authorizes on what is locked, so neither a concurrent change
// of the target's role nor one of the caller's role or state (whichever
// commits first wins) slips past the check; apply writes, and records,
// only when something changes.
func (s *Users) change(ctx context.Context, caller User, id uuid.UUID, action Action, apply func(tx *ent.Tx, caller, target User) error) error {
	return withTx(ctx, s.client, func(tx *ent.Tx) error {
		caller, target, err := lockAuthorized(ctx, tx, caller.ID, id, action)
		if err != nil {
			return err
		}
		return storageError(apply(tx, caller, target), CodeUserNotFound)
	})
}

// lockAuthorized locks the caller and the target of an admin write
// (lockCallerAndTarget), authorizes action on them, and then holds the
// request's precondition (WithPrecondition) against the target: every
// admin write to a user passes here, so each honours If-Match, and a
// caller who may not act learns nothing from a 412.
func lockAuthorized(ctx context.Context, tx *ent.Tx, callerID, targetID uuid.UUID, action Action) (caller, target User, err error) {
	caller, target, err = lockCallerAndTarget(ctx, tx, callerID, targetID)
	if err != nil {
		return User{}, User{}, err
	}
	if err := Authorize(caller, action, target); err != nil {
		return User{}, User{}, err
	}
	return caller, target, checkPrecondition(ctx, target)
}

// lockCallerAndTarget locks the rows of an admin action's caller and target
// (uuid.Nil: none) in id order, so two admins acting on each other at once
// cannot deadlock, and returns both as committed now. A caller whose row is
// gone or who is no longer active is refused.
func lockCallerAndTarget(ctx context.Context, tx *ent.Tx, callerID, targetID uuid.UUID) (caller, target User, err error) {
	rows, err := tx.User.Query().
		Where(entuser.IDIn(callerID, targetID)).
		Order(entuser.ByID()).
		ForUpdate().
		All(ctx)
	if err != nil {
		return User{}, User{}, storageError(err, "")
	}
	var foundCaller, foundTarget bool
	for _, u := range rows {
		if u.ID == callerID {
			caller, foundCaller = fromEnt(u), true
		}
		if u.ID == targetID {
			target, foundTarget = fromEnt(u), true
		}
	}
	if !foundCaller || !caller.IsActive {
		return User{}, User{}, Errorf(CodeForbidden, "this action requires an active admin account")
	}
	if targetID != uuid.Nil && !foundTarget {
		return User{}, User{}, notFoundError(CodeUserNotFound)
	}
	return caller, target, nil
}

// Sort fields of List.
var sortFields = map[string]func(...entsql.OrderTermOption) entuser.OrderOption{
	"username":   entuser.ByUsername,
	"role":       entuser.ByRole,
	"is_active":  entuser.ByIsActive,
	"created_at": entuser.ByCreatedAt,
	"updated_at": entuser.ByUpdatedAt,
}

// SortFields lists the fields List sorts on, for documentation.
var SortFields = []string{"username", "role", "is_active", "created_at", "updated_at"}

// CountCap bounds the counting of a listing: List counts the matching
// users up to Offset + CountCap and no further. An exact count reads every
// matching row, so on a large table every page, the first included, would
// cost as much as the table is large (bench/RESULTS.md measured it).
const CountCap = 10_000

// MaxOffset is the largest offset List takes: Offset + CountCap + the page
// must fit the count's LIMIT with room to spare (and a client's integer).
// openapi.yaml states it as the offset's maximum (TestDocumentMatchesDomain).
const MaxOffset = math.MaxInt32

// ListParams select one page of users.
type ListParams struct {
	// Limit is the page size, 1–100.
	Limit int
	// Offset is the number of users skipped, 0 or more.
	Offset int
	// Sort is one of SortFields; ties are broken by id.
	Sort string
	// Desc sorts in descending order.
	Desc bool
	// Role, when set, keeps only users with this role.
	Role *Role
	// IsActive, when set, keeps only users with this flag.
	IsActive *bool
	// Username, when set, keeps only the user with this name, matched
	// without regard to case as a login matches it.
	Username *string
	// After, when set, is the NextCursor of an earlier page in the same
	// sort and order: the page holds the users after that position (keyset
	// paging, as fast deep in the listing as at its start). Offset must
	// then be 0.
	After string
}

// Page is one page of a listing.
type Page struct {
	Users []User
	// Total is the number of matching users on all pages when TotalExact;
	// otherwise more match, and Total is where counting stopped
	// (Offset + CountCap).
	Total      int
	TotalExact bool
	Limit      int
	Offset     int
	// NextCursor is the position after the last user of the page, for
	// ListParams.After; empty when no user follows.
	NextCursor string
}

// Validate checks the rules of the parameters that openapi.yaml cannot
// state (the limit, offset, sort, order and role are its): a cursor is
// one an earlier page of the same listing gave, and not combined with an
// offset.
func (p ListParams) Validate() error {
	var fe fieldErrors
	if p.After != "" {
		switch _, _, err := decodeCursor(p.After); {
		case p.Offset > 0:
			fe.add("after", "cannot be combined with offset")
		case err != nil:
			fe.add("after", "must be a next_cursor of an earlier page")
		case !cursorMatches(p):
			fe.add("after", "comes from a listing in another sort or order")
		}
	}
	return fe.err()
}

// cursor is the decoded form of a NextCursor: the sort and order it
// belongs to, the sort key of the last user of the page (in the text form
// of cursorKey) and that user's id.
type cursor struct {
	Sort string    `json:"s"`
	Desc bool      `json:"d,omitempty"`
	Key  string    `json:"k"`
	ID   uuid.UUID `json:"id"`
}

// cursorKey is the sort key of u for field, as text.
func cursorKey(field string, u User) string {
	switch field {
	case entuser.FieldUsername:
		return u.Username
	case entuser.FieldRole:
		return string(roleToEnt(u.Role))
	case entuser.FieldIsActive:
		return strconv.FormatBool(u.IsActive)
	case entuser.FieldCreatedAt:
		return u.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	return u.UpdatedAt.UTC().Format(time.RFC3339Nano)
}

func encodeCursor(p ListParams, u User) string {
	b, _ := json.Marshal(cursor{Sort: p.Sort, Desc: p.Desc, Key: cursorKey(p.Sort, u), ID: u.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses a NextCursor into the cursor and its sort key as
// the value the column holds.
func decodeCursor(s string) (cursor, any, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, nil, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, nil, err
	}
	var v any
	switch c.Sort {
	case entuser.FieldUsername:
		// A client can forge a cursor; PostgreSQL text cannot hold NUL,
		// and no username does.
		if strings.ContainsRune(c.Key, 0) {
			err = errors.New("the key holds a NUL character")
		}
		v = c.Key
	case entuser.FieldRole:
		err = entuser.RoleValidator(entuser.Role(c.Key))
		v = entuser.Role(c.Key)
	case entuser.FieldIsActive:
		v, err = strconv.ParseBool(c.Key)
	case entuser.FieldCreatedAt, entuser.FieldUpdatedAt:
		v, err = time.Parse(time.RFC3339Nano, c.Key)
	default:
		err = errors.New("unknown sort field")
	}
	return c, v, err
}

func cursorMatches(p ListParams) bool {
	c, _, err := decodeCursor(p.After)
	return err == nil && c.Sort == p.Sort && c.Desc == p.Desc
}

// afterCursor keeps the users after c in its sort and order: a row
// comparison on (sort key, id), which the index on (created_at, id) serves
// for sort=created_at.
func afterCursor(c cursor, key any) predicate.User {
	op := " > ("
	if c.Desc {
		op = " < ("
	}
	return func(s *entsql.Selector) {
		s.Where(entsql.P(func(b *entsql.Builder) {
			b.WriteString("(").Ident(s.C(c.Sort)).Comma().Ident(s.C(entuser.FieldID)).WriteString(")").
				WriteString(op).Arg(key).Comma().Arg(c.ID).WriteString(")")
		}))
	}
}

// List returns one page of users, sorted and filtered by the database,
// with the count of matching users up to Offset + CountCap.
func (s *Users) List(ctx context.Context, caller User, p ListParams) (Page, error) {
	// The API has authorized caller for ActionViewUsers (x-required-role).
	if err := p.Validate(); err != nil {
		return Page{}, err
	}
	var where []predicate.User
	if p.Role != nil {
		where = append(where, entuser.RoleEQ(roleToEnt(*p.Role)))
	}
	if p.IsActive != nil {
		where = append(where, entuser.IsActive(*p.IsActive))
	}
	if p.Username != nil {
		where = append(where, usernameFold(*p.Username))
	}
	term := entsql.OrderAsc()
	if p.Desc {
		term = entsql.OrderDesc()
	}
	sortBy, ok := sortFields[p.Sort]
	if !ok {
		return Page{}, fmt.Errorf("account: List with sort %q, which openapi.yaml refuses", p.Sort)
	}
	q := s.client.User.Query().Where(where...)
	if p.After != "" {
		c, key, _ := decodeCursor(p.After) // Validate checked it
		q = q.Where(afterCursor(c, key))
	}
	// One row more than the page tells whether another page follows.
	rows, err := q.
		Order(sortBy(term), entuser.ByID(term)).
		Limit(p.Limit + 1).
		Offset(p.Offset).
		Select(userColumnNames()...).
		All(ctx)
	if err != nil {
		return Page{}, storageError(err, "")
	}
	page := Page{Users: make([]User, 0, min(len(rows), p.Limit)), Limit: p.Limit, Offset: p.Offset}
	for _, u := range rows[:min(len(rows), p.Limit)] {
		page.Users = append(page.Users, fromEnt(u))
	}
	if len(rows) > p.Limit {
		page.NextCursor = encodeCursor(p, page.Users[len(page.Users)-1])
	}
	page.Total, page.TotalExact, err = s.countUpTo(ctx, where, p.Offset+CountCap)
	if err != nil {
		return Page{}, err
	}
	return page, s.listed(ctx, caller, p)
}

// countUpTo counts the users matching where, stopping at limit: exact is
// false when limit users or more match (the count is then limit).
func (s *Users) countUpTo(ctx context.Context, where []predicate.User, limit int) (n int, exact bool, err error) {
	pg := entsql.Dialect(dialect.Postgres)
	inner := pg.SelectExpr(entsql.Raw("1")).From(pg.Table(entuser.Table)).Limit(limit + 1)
	for _, w := range where {
		w(inner)
	}
	query, args := pg.Select(entsql.Count("*")).From(inner.As("matching")).Query()
	if _, err := queryRow(ctx, s.drv, query, args, &n); err != nil {
		return 0, false, storageError(err, "")
	}
	if n > limit {
		return limit, false, nil
	}
	return n, true, nil
}
