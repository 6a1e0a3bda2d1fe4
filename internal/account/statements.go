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
		cols := append([]string{s.C(authsession.FieldID), s.C(authsession.FieldCreatedAt), s.C(authsession.FieldExpiresAt)}, publicColumns(u)...)
		q, _ := pg.Select(cols...).From(s).
			Join(u).On(s.C(authsession.FieldUserID), u.C(entuser.FieldID)).
			Where(entsql.EQ(s.C(authsession.FieldTokenHash), []byte(nil))).
			Query()
		return sessionStatement{sql: q}
	}()
	// userByID reads a user's public columns: the hash is never shown, so
	// it is not read.
	userByID = func() userStatement {
		pg := entsql.Dialect(dialect.Postgres)
		u := pg.Table(entuser.Table)
		q, _ := pg.Select(publicColumns(u)...).From(u).Where(entsql.EQ(u.C(entuser.FieldID), uuid.Nil)).Query()
		return userStatement{sql: q}
	}()
)

// publicFields are the columns of a user that User holds, in the order
// publicDest scans them.
var publicFields = []string{entuser.FieldID, entuser.FieldUsername, entuser.FieldRole, entuser.FieldIsActive,
	entuser.FieldCreatedAt, entuser.FieldUpdatedAt}

func publicColumns(t *entsql.SelectTable) []string {
	cols := make([]string, len(publicFields))
	for i, f := range publicFields {
		cols[i] = t.C(f)
	}
	return cols
}

// userRow receives the public columns of a user. The role is scanned as a
// plain string: pgx plans a scan into a named string type (entuser.Role) by
// reflection on every row, which the profile showed.
type userRow struct {
	User
	role string
}

func (r *userRow) dest() []any {
	return []any{&r.ID, &r.Username, &r.role, &r.IsActive, &r.CreatedAt, &r.UpdatedAt}
}

func (r *userRow) user() User {
	u := r.User
	u.Role = roleFromEnt(entuser.Role(r.role))
	return u
}

type sessionStatement struct{ sql string }

// run returns the session with this token hash and its user; found is
// false when no session has the hash.
func (q sessionStatement) run(ctx context.Context, drv dialect.Driver, tokenHash []byte) (sess Session, u User, found bool, err error) {
	var row userRow
	found, err = queryRow(ctx, drv, q.sql, []any{tokenHash}, append([]any{&sess.ID, &sess.CreatedAt, &sess.ExpiresAt}, row.dest()...)...)
	if !found || err != nil {
		return Session{}, User{}, false, err
	}
	sess.UserID = row.ID
	return sess, row.user(), true, nil
}

type userStatement struct{ sql string }

// run returns the user with this id; found is false when there is none.
func (q userStatement) run(ctx context.Context, drv dialect.Driver, id uuid.UUID) (User, bool, error) {
	var row userRow
	found, err := queryRow(ctx, drv, q.sql, []any{id}, row.dest()...)
	if !found || err != nil {
		return User{}, false, err
	}
	return row.user(), true, nil
}

// queryRow runs a statement on the Ent driver and scans its first row into
// dest; found is false when it returned none.
func queryRow(ctx context.Context, drv dialect.Driver, query string, args []any, dest ...any) (found bool, err error) {
	var rows entsql.Rows
	if err := drv.Query(ctx, query, args, &rows); err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, nil
}
