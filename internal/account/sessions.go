package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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
	ExpiresAt time.Time
}

// Principal is the caller of an authenticated request.
type Principal struct {
	User    User
	Session Session
	// Extended is true when this request slid the session's expiry
	// forward, so the HTTP layer refreshes the cookie.
	Extended bool
}

// Login is the result of a successful login. Token is the only copy of the
// session token the server ever holds: the database keeps its hash.
type Login struct {
	Token     string
	ExpiresAt time.Time
	User      User
}

// Sessions is the session service: login, authentication of a token with
// sliding expiry, and logout.
type Sessions struct {
	client *ent.Client
	drv    dialect.Driver
	hasher *password.Hasher
	ttl    time.Duration
	now    func() time.Time
}

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
// username and a wrong password get the same error after the same work (a
// hash against a dummy); an inactive account is told apart only after its
// correct password. Each login gets a fresh token, never a reused one.
func (s *Sessions) Login(ctx context.Context, username, pw string) (Login, error) {
	var fe fieldErrors
	if username == "" {
		fe.add("username", "is required")
	}
	if pw == "" {
		fe.add("password", "is required")
	}
	if err := fe.err(); err != nil {
		return Login{}, err
	}
	invalid := Errorf(CodeInvalidCredentials, "the username or the password is wrong")
	var u *ent.User
	if ValidateUsername(username) == "" {
		var err error
		u, err = s.client.User.Query().Where(usernameFold(username)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return Login{}, storageError(err, "")
		}
	}
	if u == nil {
		if err := s.hasher.VerifyDummy(ctx, pw); err != nil {
			return Login{}, hasherError(s.hasher, err)
		}
		return Login{}, invalid
	}
	ok, rehash, err := s.hasher.Verify(ctx, pw, string(u.PasswordHash))
	if err != nil {
		return Login{}, hasherError(s.hasher, err)
	}
	if !ok {
		return Login{}, invalid
	}
	if !u.IsActive {
		return Login{}, Errorf(CodeAccountInactive, "this account is deactivated")
	}
	if rehash {
		// The stored hash predates the current parameters; this is the one
		// moment the plain password is at hand to upgrade it.
		h, err := s.hasher.Hash(ctx, pw)
		if err != nil {
			return Login{}, hasherError(s.hasher, err)
		}
		if err := s.client.User.UpdateOneID(u.ID).SetPasswordHash([]byte(h)).Exec(ctx); err != nil {
			return Login{}, storageError(err, "")
		}
	}
	token, hash := newToken()
	now := s.now()
	expires := now.Add(s.ttl)
	err = withTx(ctx, s.client, func(tx *ent.Tx) error {
		// Expired sessions of this user go now, so rows do not pile up for
		// users who never log out.
		if _, err := tx.AuthSession.Delete().
			Where(authsession.UserID(u.ID), authsession.ExpiresAtLTE(now)).
			Exec(ctx); err != nil {
			return storageError(err, "")
		}
		return storageError(tx.AuthSession.Create().
			SetTokenHash(hash).
			SetUserID(u.ID).
			SetCreatedAt(now).
			SetExpiresAt(expires).
			Exec(ctx), "")
	})
	if err != nil {
		return Login{}, err
	}
	return Login{Token: token, ExpiresAt: expires, User: fromEnt(u)}, nil
}

// usernameFold matches a username without regard to case, in the form
// the expression index ux_users_username_lower serves.
func usernameFold(name string) func(*entsql.Selector) {
	return func(s *entsql.Selector) {
		s.Where(entsql.P(func(b *entsql.Builder) {
			b.WriteString("lower(").Ident(s.C(entuser.FieldUsername)).WriteString(") = lower(").Arg(name).WriteString(")")
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
	unauth := Errorf(CodeUnauthenticated, "a valid session is required; log in first")
	hash, ok := TokenHash(token)
	if !ok {
		return Principal{}, unauth
	}
	sess, u, found, err := sessionByToken.run(ctx, s.drv, hash)
	if err != nil {
		return Principal{}, storageError(err, "")
	}
	if !found {
		return Principal{}, unauth
	}
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
	p := Principal{
		User:    u,
		Session: Session{ID: sess.ID, UserID: u.ID, ExpiresAt: sess.ExpiresAt},
	}
	if extend {
		expires := now.Add(s.ttl)
		// The condition on the old expiry makes concurrent extensions of
		// one session write once; a lost race still sees a live session.
		n, err := s.client.AuthSession.Update().
			Where(authsession.ID(sess.ID), authsession.ExpiresAt(sess.ExpiresAt)).
			SetExpiresAt(expires).
			Save(ctx)
		if err != nil {
			return Principal{}, storageError(err, "")
		}
		if n > 0 {
			p.Session.ExpiresAt = expires
			p.Extended = true
		}
	}
	return p, nil
}

// Logout ends the caller's session.
func (s *Sessions) Logout(ctx context.Context, p Principal) error {
	err := s.client.AuthSession.DeleteOneID(p.Session.ID).Exec(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	return storageError(err, "")
}
