package account

import (
	"context"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"accounts/ent/authsession"
	entuser "accounts/ent/user"
)

// The two statements below run on every authenticated request (the session
// lookup) and on every read of a user by id. They are built once, with
// Ent's SQL builder from the generated table and column names, so the Ent
// schema stays their source of truth and a renamed column breaks the build,
// and they run on the driver the Ent client uses, scanning into typed
// values. The benchmark (bench/, measurement 1) showed the per-call path
// through Ent's query builder and its reflection-based Scan costing about
// as much CPU as the two round trips themselves; everything else goes
// through the Ent client.
var (
	// sessionByToken reads the session with a token hash and its user's
	// public columns in one round trip (a join, where Ent's eager loading
	// would take two).
	sessionByToken = func() sessionStatement {
		pg := entsql.Dialect(dialect.Postgres)
		s, u := pg.Table(authsession.Table).As("s"), pg.Table(entuser.Table).As("u")
		cols := []string{
			entsql.As(s.C(authsession.FieldID), sessionIDColumn),
			entsql.As(s.C(authsession.FieldCreatedAt), sessionCreatedColumn),
			entsql.As(s.C(authsession.FieldExpiresAt), sessionExpiresColumn),
			entsql.As(s.C(authsession.FieldLastUsedAt), sessionLastUsedColumn),
		}
		names := append([]string{sessionIDColumn, sessionCreatedColumn, sessionExpiresColumn, sessionLastUsedColumn}, userColumnNames()...)
		for _, c := range userColumnNames() {
			cols = append(cols, u.C(c))
		}
		q, _ := pg.Select(cols...).From(s).
			Join(u).On(s.C(authsession.FieldUserID), u.C(entuser.FieldID)).
			Where(entsql.EQ(s.C(authsession.FieldTokenHash), []byte(nil))).
			Query()
		return sessionStatement{sql: q, columns: names}
	}()
	// userByID reads a user's public columns: the hash is never shown, so
	// it is not read.
	userByID = func() userStatement {
		pg := entsql.Dialect(dialect.Postgres)
		u := pg.Table(entuser.Table)
		var cols []string
		for _, c := range userColumnNames() {
			cols = append(cols, u.C(c))
		}
		q, _ := pg.Select(cols...).From(u).Where(entsql.EQ(u.C(entuser.FieldID), uuid.Nil)).Query()
		return userStatement{sql: q, columns: userColumnNames()}
	}()
)

// The session's columns in sessionByToken, named apart from the user's.
const (
	sessionIDColumn       = "session_id"
	sessionCreatedColumn  = "session_created_at"
	sessionExpiresColumn  = "session_expires_at"
	sessionLastUsedColumn = "session_last_used_at"
)

// dest returns, for each column a statement selects, in order, where its
// value goes: a field of u found by the column's name, or one of sess.
func dest(columns []string, u *User, sess *Session) []any {
	d := make([]any, len(columns))
	for i, col := range columns {
		switch col {
		case sessionIDColumn:
			d[i] = &sess.ID
		case sessionCreatedColumn:
			d[i] = &sess.CreatedAt
		case sessionExpiresColumn:
			d[i] = &sess.ExpiresAt
		case sessionLastUsedColumn:
			d[i] = &sess.LastUsedAt
		default:
			d[i], _ = userDest(u, col)
		}
	}
	return d
}

type sessionStatement struct {
	sql     string
	columns []string
}

// run returns the session with this token hash and its user; found is
// false when no session has the hash.
func (q sessionStatement) run(ctx context.Context, drv dialect.Driver, tokenHash []byte) (sess Session, u User, found bool, err error) {
	found, err = queryRow(ctx, drv, q.sql, []any{tokenHash}, dest(q.columns, &u, &sess)...)
	if !found || err != nil {
		return Session{}, User{}, false, err
	}
	sess.UserID = u.ID
	inUTC(&u)
	return sess, u, true, nil
}

type userStatement struct {
	sql     string
	columns []string
}

// run returns the user with this id; found is false when there is none.
func (q userStatement) run(ctx context.Context, drv dialect.Driver, id uuid.UUID) (User, bool, error) {
	var u User
	found, err := queryRow(ctx, drv, q.sql, []any{id}, dest(q.columns, &u, nil)...)
	if !found || err != nil {
		return User{}, false, err
	}
	inUTC(&u)
	return u, true, nil
}

// queryRow runs a statement on the Ent driver and scans its first row into
// dest; found is false when it returned none.
func queryRow(ctx context.Context, drv dialect.Driver, query string, args []any, dest ...any) (found bool, err error) {
	var rows entsql.Rows
	if err := drv.Query(ctx, query, args, &rows); err != nil {
		return false, err
	}
	defer func() { _ = rows.Close() }() // a read: its error is rows.Err
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, nil
}
