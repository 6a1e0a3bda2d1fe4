package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"accounts/ent"
	"accounts/ent/authsession"
	entuser "accounts/ent/user"
	"accounts/internal/database"
	"accounts/internal/password"
)

// Session is one login, as the domain sees it: never the token.
type Session struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastUsedAt is when a request last presented the session, written at
	// most once per SessionTouchInterval.
	LastUsedAt time.Time
}

// Principal is the caller of an authenticated request.
type Principal struct {
	User    User
	Session Session
	// Extended is true when this request slid the session's expiry
	// forward, so the HTTP layer refreshes the cookie.
	Extended bool
	// read is the user AuthenticateReading read with the session.
	read prefetched
}

// prefetched is a user read by id in the session's statement.
type prefetched struct {
	id    uuid.UUID
	user  User
	found bool
	// read is false when the statement read no user by id.
	read bool
}

// Credentials are what a login presents, and who presents them.
type Credentials struct {
	Username string
	Password string
	// From is the client, whose address and device token the throttle
	// keys on.
	From Client
}

// PasswordChange is a user's change of the own password.
type PasswordChange struct {
	Current string
	New     string
	// From is the client; a wrong Current counts against its address.
	From Client
}

// Login is the result of a successful login. Token is the only copy of the
// session token the server ever holds: the database keeps its hash.
type Login struct {
	Token     string
	ExpiresAt time.Time
	User      User
	// Device is a new device token for the user at its current credential
	// version (empty without a Guard): the client presents it at later
	// logins to be trusted.
	Device string
}

// Sessions is the session service: login, authentication of a token with
// sliding expiry, a user's list of their sessions, and logout by scope or
// by session (session_manage.go).
type Sessions struct {
	client *ent.Client
	drv    dialect.Driver
	hasher *password.Hasher
	ttl    time.Duration
	now    func() time.Time
	guard  *Guard
	// maxLifetime is the absolute lifetime of a session; 0: none.
	maxLifetime time.Duration
	// log gets what an operator must hear of: a hash made with another
	// pepper. Nil logs nothing.
	log *slog.Logger
}

// SetLogger makes the service log a login that failed because the user's
// hash was made with another pepper than the server's.
func (s *Sessions) SetLogger(l *slog.Logger) { s.log = l }

// pepperMismatch reports whether err is the hasher's report of u's hash
// made with another pepper, and logs it by key id: the user cannot log in
// (the client sees a wrong password), and only the operator can help.
func (s *Sessions) pepperMismatch(ctx context.Context, u *ent.User, err error) bool {
	var m *password.KeyMismatchError
	if !errors.As(err, &m) {
		return false
	}
	if s.log != nil {
		s.log.WarnContext(ctx, "a password hash was made with another password.pepper than this server's: the user cannot log in until the server has that pepper or the password is set again",
			"user_id", u.ID.String(), "hash_key_id", m.Stored, "server_key_id", m.Current)
	}
	return true
}

// SetMaxLifetime caps every session at d after its login: sliding
// extension never goes past it. Zero means no cap.
func (s *Sessions) SetMaxLifetime(d time.Duration) { s.maxLifetime = d }

// SetGuard makes logins and password changes draw on g's budgets; without
// one nothing is throttled.
func (s *Sessions) SetGuard(g *Guard) { s.guard = g }

// NewSessions returns the session service. Sessions last ttl and are
// extended by a request made when less than a fifth of ttl is left. now is
// the clock (time.Now in production; tests pass their own so that expiry
// needs no sleeping).
func NewSessions(db *database.DB, hasher *password.Hasher, ttl time.Duration, now func() time.Time) *Sessions {
	if now == nil {
		now = time.Now
	}
	return &Sessions{client: db.Ent, drv: db.Driver, hasher: hasher, ttl: ttl, now: now}
}

// tokenBytes is the token's entropy: 256 bits.
const tokenBytes = 32

// tokenLen is the length of a token in unpadded base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// Login checks a username and password and opens a new session. An unknown
// username, a wrong password and a deactivated account get the same error
// after the same work (a hash, against a dummy for an unknown name). Each
// login gets a fresh token, never a reused one, and a fresh device token
// for the name (Guard).
//
// The attempt is reserved on the Guard's budgets before the password is
// hashed, so parallel guesses count: the failed-login budgets get it back
// unless it failed, the verification budgets keep it whatever the result,
// as the hash was paid either way. The hash waits for its slot as one of
// the client address's (password.WithPrincipal), so no address holds
// every slot. A name that breaks the username rules cannot exist: it is
// refused before any counter or hash, so no input grows the throttle's
// state.
func (s *Sessions) Login(ctx context.Context, c Credentials) (Login, error) {
	username, pw, from := c.Username, c.Password, c.From
	// openapi.yaml requires both, non-empty; a name that breaks the
	// username rule cannot exist, and is answered as an unknown one.
	if ValidateUsername(username) != "" {
		return Login{}, Errorf(CodeInvalidCredentials, "the username or the password is wrong")
	}
	u, err := s.client.User.Query().Where(usernameFold(username)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return Login{}, storageError(err, "")
	}
	if err := s.guard.ready(ctx); err != nil {
		return Login{}, err
	}
	keys := s.guard.loginKeys(from, username, u)
	paid := s.guard.verificationKeys(from, username, u)
	// The verification budgets first: a loop of right passwords spends
	// them, and its 429 then costs one reservation, not every one.
	if err := s.guard.reserve(ctx, append(slices.Clone(paid), keys...), "too many logins; try again later"); err != nil {
		return Login{}, err
	}
	l, err := s.check(password.WithPrincipal(ctx, from.Address), u, pw, from.UserAgent)
	s.guard.settle(ctx, err, keys, paid)
	if err != nil {
		return Login{}, err
	}
	// The version verified is the one the session was opened at
	// (lockVerified), so the token dies with the session at the next
	// credential change.
	l.Device = s.guard.NewDevice(u.ID, u.CredentialVersion)
	return l, nil
}

// check verifies pw against u (nil: an unknown name, checked against the
// dummy) and opens a session labelled agent.
func (s *Sessions) check(ctx context.Context, u *ent.User, pw, agent string) (Login, error) {
	invalid := Errorf(CodeInvalidCredentials, "the username or the password is wrong")
	if u == nil {
		if err := s.hasher.VerifyDummy(ctx, pw); err != nil {
			return Login{}, hasherError(s.hasher, err)
		}
		return Login{}, invalid
	}
	ok, rehash, err := s.hasher.Verify(ctx, pw, string(u.PasswordHash))
	if s.pepperMismatch(ctx, u, err) {
		return Login{}, invalid
	}
	if err != nil {
		return Login{}, hasherError(s.hasher, err)
	}
	// A deactivated account answers as a wrong password does, and counts
	// as one: telling "deactivated" would confirm a guessed password, which
	// its owner may use elsewhere, and only after a correct one is it of
	// use to anybody; the owner learns it from whoever deactivated it.
	if !ok || !u.IsActive {
		return Login{}, invalid
	}
	var upgraded []byte
	if rehash {
		// The stored hash predates the current parameters; this is the one
		// moment the plain password is at hand to upgrade it.
		h, err := s.hasher.Hash(ctx, pw)
		if err != nil {
			return Login{}, hasherError(s.hasher, err)
		}
		upgraded = []byte(h)
	}
	var l Login
	err = withTx(ctx, s.client, func(tx *ent.Tx) error {
		cur, err := lockVerified(ctx, tx, u, upgraded != nil)
		if err != nil {
			return err
		}
		if upgraded != nil {
			// A compare-and-set on the hash that was verified: a rehash never
			// writes over a password set since (the version check above
			// already refused those; this keeps the write honest alone).
			if _, err := tx.User.Update().
				Where(entuser.ID(u.ID), entuser.PasswordHash(u.PasswordHash)).
				SetPasswordHash(upgraded).
				Save(ctx); err != nil {
				return storageError(err, "")
			}
		}
		l, err = s.open(ctx, tx, fromEnt(cur), agent)
		if err != nil {
			return err
		}
		return record(ctx, tx, auditEntry{action: AuditLoggedIn, actor: &l.User, target: l.User})
	})
	if ErrorCode(err) == CodeAccountInactive {
		// Deactivated while the password was being checked.
		return Login{}, invalid
	}
	if err != nil {
		return Login{}, err
	}
	return l, nil
}

// lockVerified locks the row of a user whose password was just verified
// against u (a share lock, or an exclusive one to rehash) and returns it
// as committed now. It refuses the login when the credential version
// moved since u was read: a password set or change, or a deactivation,
// committed while the password was being checked. Because the lock is held
// until the session is inserted, a change committing later waits for the
// insert and then ends that session with the others.
func lockVerified(ctx context.Context, tx *ent.Tx, u *ent.User, exclusive bool) (*ent.User, error) {
	q := tx.User.Query().Where(entuser.ID(u.ID))
	if exclusive {
		q = q.ForUpdate()
	} else {
		q = q.ForShare()
	}
	cur, err := q.Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, Errorf(CodeInvalidCredentials, "the username or the password is wrong")
	case err != nil:
		return nil, storageError(err, "")
	case !cur.IsActive:
		return nil, Errorf(CodeAccountInactive, "this account is deactivated")
	case cur.CredentialVersion != u.CredentialVersion:
		return nil, Errorf(CodeInvalidCredentials, "the username or the password is wrong")
	}
	return cur, nil
}

// open inserts a new session for u in tx, labelled with the client's
// User-Agent (agent), and returns its token.
// It keeps the user's newest MaxSessionsPerUser sessions and ends the
// older ones, so a flood of logins by one account cannot grow the table.
func (s *Sessions) open(ctx context.Context, tx *ent.Tx, u User, agent string) (Login, error) {
	token, hash := newToken()
	now := s.now()
	expires := s.expiry(now, now)
	err := tx.AuthSession.Create().
		SetTokenHash(hash).
		SetUserID(u.ID).
		SetCreatedAt(now).
		SetLastUsedAt(now).
		SetExpiresAt(expires).
		SetUserAgent(ShortUserAgent(agent)).
		Exec(ctx)
	if err != nil {
		return Login{}, storageError(err, "")
	}
	_, err = tx.AuthSession.Delete().
		Where(authsession.UserID(u.ID), exceptNewest(authsession.Table, authsession.FieldID, authsession.FieldUserID, u.ID, MaxSessionsPerUser)).
		Exec(ctx)
	if err != nil {
		return Login{}, storageError(err, "")
	}
	return Login{Token: token, ExpiresAt: expires, User: u}, nil
}

// MaxSessionsPerUser is how many sessions one user keeps at most; a login
// past it ends the user's oldest.
const MaxSessionsPerUser = 50

// expiry is when a session created at created and used at now expires: a
// full ttl from now, but never past its absolute lifetime.
func (s *Sessions) expiry(created, now time.Time) time.Time {
	expires := now.Add(s.ttl)
	if s.maxLifetime > 0 {
		expires = minTime(expires, created.Add(s.maxLifetime))
	}
	return expires
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Purge deletes up to batch expired sessions and returns how many it
// deleted. Rows that another replica's purge holds are skipped, so every
// replica may purge at once without waiting on, or repeating, the others.
func (s *Sessions) Purge(ctx context.Context, batch int) (int, error) {
	now := s.now()
	n, err := s.client.AuthSession.Delete().
		Where(database.PurgeBatch(authsession.Table, authsession.FieldID, entsql.LTE(authsession.FieldExpiresAt, now), batch)).
		Exec(ctx)
	return n, storageError(err, "")
}

// ChangePassword changes the caller's own password after checking the
// current one. Every session of the caller ends, the one that asked
// included, and a new session is opened and returned: whoever held the old
// token (it may be why the password changes) is out. The change is a
// compare-and-set on the hash the current password was checked against,
// so it cannot undo a reset that committed meanwhile. The answer carries
// a device token of the new credential version: every other device's
// token ends with the old password, the caller's is renewed.
//
// A wrong current password counts against the session's own budget (and
// the verification against the account's, Guard.changeKeys), never
// against a budget strangers spend: they cannot block it, and a stolen
// session still cannot guess without limit.
func (s *Sessions) ChangePassword(ctx context.Context, p Principal, c PasswordChange) (Login, error) {
	from, current, next := c.From, c.Current, c.New
	var fe fieldErrors
	if current == "" {
		fe.add("current_password", "is required")
	}
	if msg := ValidatePassword(next); msg != "" {
		fe.add("new_password", "%s", msg)
	}
	if err := fe.err(); err != nil {
		return Login{}, err
	}
	u, err := s.client.User.Get(ctx, p.User.ID)
	if err != nil {
		return Login{}, storageError(err, CodeUserNotFound)
	}
	if err := s.guard.ready(ctx); err != nil {
		return Login{}, err
	}
	keys, paid := s.guard.changeKeys(from, p.Session.ID, u)
	if err := s.guard.reserve(ctx, append(slices.Clone(keys), paid...), "too many wrong passwords; try again later"); err != nil {
		return Login{}, err
	}
	ctx = password.WithPrincipal(ctx, from.Address)
	ok, _, err := s.hasher.Verify(ctx, current, string(u.PasswordHash))
	if s.pepperMismatch(ctx, u, err) {
		err = nil
	}
	if !ok && err == nil {
		err = Errorf(CodeWrongPassword, "the current password is wrong")
	}
	err = hasherError(s.hasher, err)
	s.guard.settle(ctx, err, keys, paid)
	if err != nil {
		return Login{}, err
	}
	if next == current {
		return Login{}, &Error{Code: CodeValidationFailed, Message: "the request has invalid fields",
			Fields: []FieldError{{Field: "new_password", Message: "must differ from the current password"}}}
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return Login{}, hasherError(s.hasher, err)
	}
	var l Login
	err = withTx(ctx, s.client, func(tx *ent.Tx) error {
		cur, err := lockVerified(ctx, tx, u, true)
		if err != nil {
			if ErrorCode(err) == CodeInvalidCredentials {
				return Errorf(CodeWrongPassword, "the password was changed meanwhile; the current password is wrong")
			}
			return err
		}
		if err := checkPrecondition(ctx, fromEnt(cur)); err != nil {
			return err
		}
		n, err := endCredentials(ctx, tx, u.ID, tx.User.UpdateOneID(u.ID).SetPasswordHash([]byte(hash)))
		if err != nil {
			return storageError(err, CodeUserNotFound)
		}
		l, err = s.open(ctx, tx, fromEnt(cur), from.UserAgent)
		if err != nil {
			return err
		}
		// The device that changed the password stays trusted: its token
		// is of the version endCredentials just moved to.
		l.Device = s.guard.NewDevice(u.ID, cur.CredentialVersion+1)
		return record(ctx, tx, auditEntry{action: AuditPasswordChanged, actor: &l.User, target: l.User, details: sessionsEnded(n)})
	})
	return l, err
}

// usernameFold matches a username without regard to case, in the form
// the expression index ux_users_username_lower serves.
func usernameFold(name string) func(*entsql.Selector) {
	return func(s *entsql.Selector) {
		// The column is named now, not when the query is built: a listing's
		// count wraps this selector in another and renames it.
		col := s.C(entuser.FieldUsername)
		s.Where(entsql.P(func(b *entsql.Builder) {
			b.WriteString("lower(").Ident(col).WriteString(") = lower(").Arg(name).WriteString(")")
		}))
	}
}

func newToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Authenticate resolves a session token to its caller. A malformed,
// unknown or expired token is CodeUnauthenticated (an expired row is
// removed). A session of a deactivated user is CodeAccountInactive, and
// ends every session of that user. A session with less than a fifth of its
// lifetime left is extended to a full lifetime.
func (s *Sessions) Authenticate(ctx context.Context, token string) (Principal, error) {
	return s.AuthenticateReading(ctx, token, uuid.Nil)
}

// AuthenticateReading is Authenticate for a request that reads the user
// with id target (uuid.Nil: none): the same statement that finds the
// session reads that user too, so an authenticated read of a user is one
// round trip (Users.Get takes it from the Principal). Nothing is kept
// past the request: the next one reads the session again, so a revoked
// or expired session, a deactivation or a password change is seen by the
// very next request on every replica.
func (s *Sessions) AuthenticateReading(ctx context.Context, token string, target uuid.UUID) (Principal, error) {
	// The error is made where it is returned: made up front, it would cost
	// every authenticated request two allocations.
	unauth := func() error {
		return &Error{Code: CodeUnauthenticated, Message: "a valid session is required; log in first"}
	}
	hash, ok := TokenHash(token)
	if !ok {
		return Principal{}, unauth()
	}
	stmt := sessionByToken
	if target != uuid.Nil {
		stmt = sessionAndUser
	}
	r, found, err := stmt.run(ctx, s.drv, hash, target)
	if err != nil {
		return Principal{}, storageError(err, "")
	}
	if !found {
		return Principal{}, unauth()
	}
	sess, u := r.session, r.user
	now := s.now()
	extend, err := CheckSession(sess, u, now, s.ttl)
	switch ErrorCode(err) {
	case "":
	case CodeUnauthenticated:
		if err := s.client.AuthSession.DeleteOneID(sess.ID).Exec(ctx); err != nil && !ent.IsNotFound(err) {
			return Principal{}, storageError(err, "")
		}
		return Principal{}, err
	default:
		if _, err := s.client.AuthSession.Delete().Where(authsession.UserID(u.ID)).Exec(ctx); err != nil {
			return Principal{}, storageError(err, "")
		}
		return Principal{}, err
	}
	p := Principal{User: u, Session: sess, read: r.other}
	if err := s.touch(ctx, &p, extend, now); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// SessionTouchInterval is how stale a session's last_used_at may get: a
// request writes it only when it is at least this old, so reads add no
// write per request.
const SessionTouchInterval = 5 * time.Minute

// touch writes what a request changes of its session, in one statement
// and only when something is due: the expiry when extend asks for it, and
// last_used_at when it is SessionTouchInterval old. The conditions on the
// old values make concurrent requests of one session write once; a lost
// race still sees a live session.
func (s *Sessions) touch(ctx context.Context, p *Principal, extend bool, now time.Time) error {
	sess := p.Session
	expires := s.expiry(sess.CreatedAt, now)
	extend = extend && expires.After(sess.ExpiresAt)
	if !extend && now.Sub(sess.LastUsedAt) < SessionTouchInterval {
		return nil
	}
	upd := s.client.AuthSession.Update().
		Where(authsession.ID(sess.ID), authsession.ExpiresAt(sess.ExpiresAt), authsession.LastUsedAt(sess.LastUsedAt)).
		SetLastUsedAt(now)
	if extend {
		upd.SetExpiresAt(expires)
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return storageError(err, "")
	}
	if n > 0 {
		p.Session.LastUsedAt = now
		if extend {
			p.Session.ExpiresAt = expires
			p.Extended = true
		}
	}
	return nil
}
