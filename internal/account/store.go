package account

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgconn"

	"accounts/ent"
	_ "accounts/ent/runtime" // registers the schema's defaults and the soft-delete hook
	entuser "accounts/ent/user"
)

// unavailableRetry is the Retry-After given when the database cannot serve.
const unavailableRetry = 2 * time.Second

// storageError is the one place where errors from Ent, pgx and the pool
// become the domain's errors. Every call into the database goes through
// it, so no other code inspects driver errors. notFound is the code for
// "no such row" in the caller's context ("" treats it as internal).
func storageError(err error, notFound Code) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	if ent.IsNotFound(err) && notFound != "" {
		return notFoundError(notFound)
	}
	// A failure to connect is an outage whatever the server said while
	// refusing (too many clients, starting up, database not accepting).
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return unavailable(err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505" && (pe.ConstraintName == "ux_users_username_lower" || pe.ConstraintName == "ix_users_username"):
			return &Error{Code: CodeUsernameTaken, Message: "this username is taken", cause: err,
				Fields: []FieldError{{Field: "username", Message: "is taken"}}}
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "53300", // too_many_connections
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now
			pe.Code == "40001", // serialization_failure
			pe.Code == "40P01": // deadlock_detected
			return unavailable(err)
		}
		return fmt.Errorf("database: %w", err)
	}
	if ent.IsConstraintError(err) {
		// A constraint error that is not a PgError cannot be classified
		// further; on users the only unique key is the username.
		return fmt.Errorf("database constraint: %w", err)
	}
	if isConnectionError(err) {
		return unavailable(err)
	}
	return fmt.Errorf("database: %w", err)
}

func isConnectionError(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce),
		errors.As(err, &ne),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		// database.pool_timeout passing while the request waits for a
		// connection, or a statement that did not finish in time.
		errors.Is(err, context.DeadlineExceeded),
		pgconn.SafeToRetry(err),
		pgconn.Timeout(err):
		return true
	}
	// pgx reports a connection lost mid-query with these messages and no
	// typed error.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}

func unavailable(cause error) *Error {
	return &Error{
		Code:       CodeServiceUnavailable,
		Message:    "the database is not available; try again shortly",
		RetryAfter: unavailableRetry,
		cause:      cause,
	}
}

// notFoundError is the answer for a row that does not exist, in the
// caller's context (CodeUserNotFound or a plain not_found).
func notFoundError(c Code) *Error {
	msg := "not found"
	if c == CodeUserNotFound {
		msg = "no user has this id"
	}
	return &Error{Code: c, Message: msg}
}

// exceptNewest selects the rows of table whose column owner is v except
// its newest n, newest by id: ids are UUIDv7, so the newest are the
// greatest. A delete with it keeps what one owner holds bounded.
func exceptNewest(table, id, owner string, v any, n int) func(*entsql.Selector) {
	return func(sel *entsql.Selector) {
		keep := entsql.Select(id).From(entsql.Table(table)).
			Where(entsql.EQ(owner, v)).
			OrderBy(entsql.Desc(id)).
			Limit(n)
		sel.Where(entsql.NotIn(sel.C(id), keep))
	}
}

// withTx runs fn in a transaction and commits it when fn returns nil.
func withTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return storageError(err, "")
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return storageError(tx.Commit(), "")
}

func roleFromEnt(r entuser.Role) Role {
	switch r {
	case entuser.RoleADMIN:
		return RoleAdmin
	case entuser.RoleSUPER_ADMIN:
		return RoleSuperAdmin
	}
	return RoleUser
}

func roleToEnt(r Role) entuser.Role {
	switch r {
	case RoleAdmin:
		return entuser.RoleADMIN
	case RoleSuperAdmin:
		return entuser.RoleSUPER_ADMIN
	}
	return entuser.RoleUSER
}
