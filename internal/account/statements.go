package account

import (
	"context"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"accounts/ent/authsession"
	entuser "accounts/ent/user"
)

// The statements below run on every authenticated request (the session
// lookup, in one of its two forms) and on every read of a user by id that
// the lookup did not make. They are built once, with
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
	sessionByToken = sessionStatementOf(false)
	// sessionAndUser is sessionByToken that also reads the user with a
	// given id, for a request that reads one: a row for the session's user
	// and one for the other (one row when they are the same user, or when
	// no user has the id), still in one round trip.
	sessionAndUser = sessionStatementOf(true)
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

// sessionStatementOf builds the session lookup, with Ent's builder from
// the generated names; withUser adds the user with an id given as an
// argument of its own to the users the join reads
// (u.id IN (s.user_id, $id)), which PostgreSQL serves with one
// primary-key probe per id.
func sessionStatementOf(withUser bool) sessionStatement {
	pg := entsql.Dialect(dialect.Postgres)
	s, u := pg.Table(authsession.Table).As("s"), pg.Table(entuser.Table).As("u")
	cols := []string{
		entsql.As(s.C(authsession.FieldID), sessionIDColumn),
		entsql.As(s.C(authsession.FieldUserID), sessionUserColumn),
		entsql.As(s.C(authsession.FieldCreatedAt), sessionCreatedColumn),
		entsql.As(s.C(authsession.FieldExpiresAt), sessionExpiresColumn),
		entsql.As(s.C(authsession.FieldLastUsedAt), sessionLastUsedColumn),
	}
	names := append([]string{sessionIDColumn, sessionUserColumn, sessionCreatedColumn, sessionExpiresColumn, sessionLastUsedColumn}, userColumnNames()...)
	for _, c := range userColumnNames() {
		cols = append(cols, u.C(c))
	}
	join := pg.Select(cols...).From(s).Join(u)
	if withUser {
		join.OnP(entsql.P(func(b *entsql.Builder) {
			b.WriteString(u.C(entuser.FieldID)).WriteString(" IN (").WriteString(s.C(authsession.FieldUserID)).Comma().Arg(uuid.Nil).WriteString(")")
		}))
	} else {
		join.On(s.C(authsession.FieldUserID), u.C(entuser.FieldID))
	}
	q, args := join.Where(entsql.EQ(s.C(authsession.FieldTokenHash), []byte(nil))).Query()
	// The arguments in the order the statement numbers them: the builder
	// numbers them as they appear, the join's before the filter's.
	_, userFirst := args[0].(uuid.UUID)
	return sessionStatement{sql: q, columns: names, withUser: withUser, userFirst: userFirst}
}

// The session's columns in sessionByToken, named apart from the user's.
const (
	sessionIDColumn       = "session_id"
	sessionUserColumn     = "session_user_id"
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
		case sessionUserColumn:
			d[i] = &sess.UserID
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
	// withUser: the statement reads a second user by id; userFirst: its id
	// is the first argument.
	withUser, userFirst bool
}

// sessionRead is what sessionStatement.run found: the session, its user,
// and, when the statement reads another user by id, that user.
type sessionRead struct {
	session Session
	user    User
	// other is the user read by id; found is false when there is none.
	other prefetched
}

// run returns the session with this token hash and its user (and, for
// sessionAndUser, the user with id other); found is false when no session
// has the hash.
func (q sessionStatement) run(ctx context.Context, drv dialect.Driver, tokenHash []byte, other uuid.UUID) (r sessionRead, found bool, err error) {
	args := []any{tokenHash}
	if q.withUser {
		args = append(args, uuidArg(other))
		if q.userFirst {
			args[0], args[1] = args[1], args[0]
		}
	}
	var rows entsql.Rows
	if err := drv.Query(ctx, q.sql, args, &rows); err != nil {
		return sessionRead{}, false, err
	}
	defer func() { _ = rows.Close() }() // a read: its error is rows.Err
	r.other = prefetched{id: other, read: q.withUser}
	var (
		sess Session
		u    User
	)
	into := dest(q.columns, &u, &sess)
	for rows.Next() {
		if err := rows.Scan(into...); err != nil {
			return sessionRead{}, false, err
		}
		inUTC(&u)
		if u.ID == sess.UserID {
			r.session, r.user, found = sess, u, true
		}
		if q.withUser && u.ID == other {
			r.other.user, r.other.found = u, true
		}
	}
	if err := rows.Err(); err != nil || !found {
		return sessionRead{}, false, err
	}
	return r, true, nil
}

type userStatement struct {
	sql     string
	columns []string
}

// run returns the user with this id; found is false when there is none.
func (q userStatement) run(ctx context.Context, drv dialect.Driver, id uuid.UUID) (User, bool, error) {
	var u User
	found, err := queryRow(ctx, drv, q.sql, []any{uuidArg(id)}, dest(q.columns, &u, nil)...)
	if !found || err != nil {
		return User{}, false, err
	}
	inUTC(&u)
	return u, true, nil
}

// uuidArg is id as a statement's argument: a pgtype.UUID, which pgx
// encodes as a uuid from its 16 bytes when the statement is prepared
// (given a uuid.UUID, pgx takes the driver.Valuer's string and parses it
// back, about eight allocations an argument), and as text where the
// parameter's type is unknown, as through PgBouncer in transaction
// pooling mode, where bare bytes cannot be encoded.
func uuidArg(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

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
