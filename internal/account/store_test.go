package account

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestStorageError pins the translation at the storage boundary: the pool
// running dry and a lost connection become service_unavailable with a
// Retry-After, a unique violation on the username becomes username_taken,
// and anything else stays internal (never shown to the client).
func TestStorageError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want Code
	}{
		// database.pool_timeout passing while waiting for a connection.
		{fmt.Errorf("query: %w", context.DeadlineExceeded), CodeServiceUnavailable},
		{&pgconn.PgError{Code: "57P01"}, CodeServiceUnavailable},
		{&pgconn.ConnectError{Config: &pgconn.Config{}}, CodeServiceUnavailable},
		{&pgconn.PgError{Code: "08006"}, CodeServiceUnavailable},
		{&pgconn.PgError{Code: "23505", ConstraintName: "ux_users_username_lower"}, CodeUsernameTaken},
		{&pgconn.PgError{Code: "23505", ConstraintName: "ix_users_username"}, CodeUsernameTaken},
		{&pgconn.PgError{Code: "23505", ConstraintName: "auth_sessions_token_hash_key"}, CodeInternal},
		{&pgconn.PgError{Code: "42P01"}, CodeInternal},
		{errors.New("write tcp 127.0.0.1:5432: broken pipe"), CodeServiceUnavailable},
		{errors.New("something else"), CodeInternal},
		{Errorf(CodeForbidden, "no"), CodeForbidden},
	}
	for _, c := range cases {
		err := storageError(c.err, CodeUserNotFound)
		if got := ErrorCode(err); got != c.want {
			t.Errorf("storageError(%v) = %q, want %q", c.err, got, c.want)
		}
		var e *Error
		if c.want == CodeServiceUnavailable && errors.As(err, &e) && e.RetryAfter <= 0 {
			t.Errorf("storageError(%v): no RetryAfter", c.err)
		}
	}
	if storageError(nil, "") != nil {
		t.Error("storageError(nil) is not nil")
	}
}
