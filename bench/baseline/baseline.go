// Package baseline is the yardstick of the benchmarks: the user and session
// services the HTTP API needs, written by hand on a pgxpool, with no Ent and
// no database/sql in between. It implements only what GET /api/v1/users/{id}
// needs when an admin calls it (the session lookup and the user read). Each
// service embeds the HTTP layer's interface, left nil, for every other
// method, so a method added to the interface needs no edit here; calling one
// panics, and the router's recovery answers 500. It lives in bench/ only and
// is never wired into the service.
package baseline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"accounts/internal/account"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
)

// The two statements of an authenticated GET /api/v1/users/{id}. pgbench
// runs the same two (see SessionSQL and UserSQL in the bench command), so
// the three measurements compare like with like.
const (
	// SessionSQL finds a session by the SHA-256 of its token, with its user.
	SessionSQL = `SELECT s.id, s.expires_at, u.id, u.username, u.role, u.is_active, u.created_at, u.updated_at
FROM auth_sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1`
	// UserSQL reads one user by id.
	UserSQL = `SELECT id, username, role, is_active, created_at, updated_at FROM users WHERE id = $1`
	// extendSQL slides a session's expiry, once, as the service does.
	extendSQL = `UPDATE auth_sessions SET expires_at = $1 WHERE id = $2 AND expires_at = $3`
)

// Users is the baseline user service: Get, and nothing else.
type Users struct {
	httpapi.UserService // nil: the methods the baseline does not serve
	pool                *pgxpool.Pool
}

// Sessions is the baseline session service: Authenticate, and nothing else.
type Sessions struct {
	httpapi.SessionService // nil: the methods the baseline does not serve
	pool                   *pgxpool.Pool
	ttl                    time.Duration
	now                    func() time.Time
}

// The baseline fits the HTTP layer's interfaces.
var (
	_ httpapi.UserService    = (*Users)(nil)
	_ httpapi.SessionService = (*Sessions)(nil)
)

// OpenPool opens the baseline's pgxpool with the service's pool settings
// (database.PoolConfig), so both sides run on pools alike.
func OpenPool(ctx context.Context, cfg config.Database, log *slog.Logger) (*pgxpool.Pool, error) {
	pc, err := database.PoolConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	return pgxpool.NewWithConfig(ctx, pc)
}

// New returns the baseline services on pool. ttl is the session lifetime
// (for the sliding extension, as in account.NewSessions).
func New(pool *pgxpool.Pool, ttl time.Duration) (*Users, *Sessions) {
	return &Users{pool: pool}, &Sessions{pool: pool, ttl: ttl, now: time.Now}
}

// AuthenticateReading resolves a token to its caller with one query, judged
// by the service's own rules (account.TokenHash, account.CheckSession), so
// it answers as account.Sessions.AuthenticateReading does for a live,
// expired or unknown session (the expired row is left for the service's
// own clean-up). The user a request reads is left to Get, which reads it
// with a statement of its own: the baseline keeps the two statements
// pgbench runs.
func (s *Sessions) AuthenticateReading(ctx context.Context, token string, _ uuid.UUID) (account.Principal, error) {
	unauth := account.Errorf(account.CodeUnauthenticated, "a valid session is required; log in first")
	hash, ok := account.TokenHash(token)
	if !ok {
		return account.Principal{}, unauth
	}
	var (
		p    account.Principal
		role string
	)
	err := s.pool.QueryRow(ctx, SessionSQL, hash).Scan(&p.Session.ID, &p.Session.ExpiresAt,
		&p.User.ID, &p.User.Username, &role, &p.User.IsActive, &p.User.CreatedAt, &p.User.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.Principal{}, unauth
	}
	if err != nil {
		return account.Principal{}, fmt.Errorf("baseline: session lookup: %w", err)
	}
	p.User.Role = roleOf(role)
	p.Session.UserID = p.User.ID
	now := s.now()
	extend, err := account.CheckSession(p.Session, p.User, now, s.ttl)
	if err != nil {
		return account.Principal{}, err
	}
	if extend {
		expires := now.Add(s.ttl)
		tag, err := s.pool.Exec(ctx, extendSQL, expires, p.Session.ID, p.Session.ExpiresAt)
		if err != nil {
			return account.Principal{}, fmt.Errorf("baseline: extend session: %w", err)
		}
		if tag.RowsAffected() > 0 {
			p.Session.ExpiresAt, p.Extended = expires, true
		}
	}
	return p, nil
}

// Get returns one user for an admin (p's caller), with the service's
// authorization rule.
func (u *Users) Get(ctx context.Context, p account.Principal, id uuid.UUID) (account.User, error) {
	if err := account.Authorize(p.User, account.ActionViewUsers, account.User{}); err != nil {
		return account.User{}, err
	}
	var (
		out  account.User
		role string
	)
	err := u.pool.QueryRow(ctx, UserSQL, id).Scan(&out.ID, &out.Username, &role, &out.IsActive, &out.CreatedAt, &out.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.User{}, account.Errorf(account.CodeUserNotFound, "no user has this id")
	}
	if err != nil {
		return account.User{}, fmt.Errorf("baseline: user read: %w", err)
	}
	out.Role = roleOf(role)
	return out, nil
}

// FloorGet is the database work of the benchmarks' floor
// (httpapi.Floor): the session lookup, then the user read, on the
// baseline's statements.
func FloorGet(users *Users, sessions *Sessions) httpapi.FloorGet {
	return func(ctx context.Context, token string, id uuid.UUID) (account.User, error) {
		p, err := sessions.AuthenticateReading(ctx, token, uuid.Nil)
		if err != nil {
			return account.User{}, err
		}
		return users.Get(ctx, p, id)
	}
}

// roleOf maps the database enum (USER, ADMIN, SUPER_ADMIN) to the API role.
func roleOf(db string) account.Role {
	switch db {
	case "ADMIN":
		return account.RoleAdmin
	case "SUPER_ADMIN":
		return account.RoleSuperAdmin
	}
	return account.RoleUser
}
