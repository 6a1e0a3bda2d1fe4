package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// entDriver is Ent's dialect.Driver running on the pgxpool itself.
//
// Ent's own driver goes through database/sql, and the benchmark (bench/,
// measurement 1) showed that path costing about 2.5 times a pgxpool query:
// database/sql starts a goroutine per query to watch a cancellable context,
// wraps every borrowed connection in a new driver.Conn, and converts every
// value twice (pgx to driver.Value, driver.Value to the destination). Here a
// query borrows a pool connection, runs on it with pgx, and scans straight
// into Ent's destinations. Ent's generated code and everything above it are
// unchanged; only the pipe below Ent is shorter.
//
// The database/sql view of the same pool (DB.SQL) stays for the migration
// engine, which Atlas drives through *sql.DB, and for Ent's ExecContext and
// QueryContext, which must return database/sql types.
type entDriver struct {
	pool *pgxpool.Pool
	db   *sql.DB
	// timeout bounds the wait for a free connection (pool_timeout).
	timeout time.Duration
}

var _ dialect.Driver = (*entDriver)(nil)

// Dialect implements dialect.Driver.
func (d *entDriver) Dialect() string { return dialect.Postgres }

// Close closes the database/sql view; DB.Close closes the pool after it.
func (d *entDriver) Close() error { return d.db.Close() }

// acquire borrows a connection, waiting at most pool_timeout.
func (d *entDriver) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	tctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	c, err := d.pool.Acquire(tctx)
	if err != nil {
		return nil, exhausted(ctx, tctx, err, d.timeout, d.pool.Config().MaxConns)
	}
	return c, nil
}

// exhausted turns a failed wait for a connection into ErrPoolExhausted when
// it was pool_timeout, not the caller, that ran out.
func exhausted(ctx, tctx context.Context, err error, timeout time.Duration, max int32) error {
	if ctx.Err() == nil && tctx.Err() != nil {
		return fmt.Errorf("%w: no connection became free within %s (pool holds at most %d)", ErrPoolExhausted, timeout, max)
	}
	return err
}

// Exec implements dialect.ExecQuerier.
func (d *entDriver) Exec(ctx context.Context, query string, args, v any) error {
	return d.withConn(ctx, false, func(c *pgxpool.Conn) error { return execOn(ctx, c, query, args, v) })
}

// Query implements dialect.ExecQuerier. The connection goes back to the
// pool when the rows are closed or read to the end.
func (d *entDriver) Query(ctx context.Context, query string, args, v any) error {
	return d.withConn(ctx, true, func(c *pgxpool.Conn) error { return queryOn(ctx, c, query, args, v, c.Release) })
}

// withConn runs fn on a borrowed connection and gives it back, unless fn
// succeeded and keep says the connection now belongs to what fn returned
// (open rows). A first attempt that failed before anything reached the
// server runs once more on another connection.
func (d *entDriver) withConn(ctx context.Context, keep bool, fn func(*pgxpool.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := d.acquire(ctx)
		if err != nil {
			return err
		}
		err = fn(c)
		if err != nil || !keep {
			c.Release()
		}
		if err != nil && retryable(ctx, err, attempt) {
			continue
		}
		return err
	}
}

// querier is what Ent's statements run on: a pool connection, or a
// transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// execOn runs Ent's Exec on q.
func execOn(ctx context.Context, q querier, query string, args, v any) error {
	argv, err := argsOf(args)
	if err != nil {
		return err
	}
	tag, err := q.Exec(ctx, query, argv...)
	if err != nil {
		return err
	}
	return setResult(v, tag)
}

// queryOn runs Ent's Query on q. release, when not nil, gives the
// connection back once the rows are closed or read to the end.
func queryOn(ctx context.Context, q querier, query string, args, v any, release func()) error {
	argv, err := argsOf(args)
	if err != nil {
		return err
	}
	vr, ok := v.(*entsql.Rows)
	if !ok {
		return fmt.Errorf("database: Ent query wants *sql.Rows, got %T", v)
	}
	rows, err := q.Query(ctx, query, argv...)
	if err != nil {
		return err
	}
	*vr = entsql.Rows{ColumnScanner: &pgxRows{rows: rows, release: release}}
	return nil
}

// retryable reports whether a statement that failed on its first attempt
// may run again on another connection: only when nothing reached the server
// (a connection the server closed while it sat in the pool). database/sql
// did the same for Ent through driver.ErrBadConn.
func retryable(ctx context.Context, err error, attempt int) bool {
	return attempt == 0 && ctx.Err() == nil && pgconn.SafeToRetry(err)
}

// BeginTx starts a transaction on a borrowed connection, which stays out
// of the pool until Commit or Rollback.
func (d *entDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	txo, err := txOptions(opts)
	if err != nil {
		return nil, err
	}
	c, err := d.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.BeginTx(ctx, txo)
	if err != nil {
		c.Release()
		return nil, err
	}
	return &entTx{tx: tx, conn: c, ctx: ctx}, nil
}

// Tx implements dialect.Driver.
func (d *entDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

// ExecContext serves Ent's client.ExecContext, which must return a
// database/sql result, through the database/sql view.
func (d *entDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.db.ExecContext(ctx, query, args...)
}

// QueryContext serves Ent's client.QueryContext, which must return
// database/sql rows, through the database/sql view.
func (d *entDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.db.QueryContext(ctx, query, args...)
}

func txOptions(opts *sql.TxOptions) (pgx.TxOptions, error) {
	var o pgx.TxOptions
	if opts == nil {
		return o, nil
	}
	levels := map[sql.IsolationLevel]pgx.TxIsoLevel{
		sql.LevelDefault:         "",
		sql.LevelReadUncommitted: pgx.ReadUncommitted,
		sql.LevelReadCommitted:   pgx.ReadCommitted,
		sql.LevelRepeatableRead:  pgx.RepeatableRead,
		sql.LevelSnapshot:        pgx.RepeatableRead,
		sql.LevelSerializable:    pgx.Serializable,
	}
	level, ok := levels[opts.Isolation]
	if !ok {
		return o, fmt.Errorf("database: PostgreSQL has no isolation level %s", opts.Isolation)
	}
	o.IsoLevel = level
	if opts.ReadOnly {
		o.AccessMode = pgx.ReadOnly
	}
	return o, nil
}

// entTx is Ent's dialect.Tx on a pgx transaction.
type entTx struct {
	tx   pgx.Tx
	conn *pgxpool.Conn
	// ctx is the context the transaction began with: database/sql ends a
	// transaction whose context is cancelled instead of committing it, and
	// committing under the same context keeps that behaviour.
	ctx context.Context
}

// Exec implements dialect.ExecQuerier.
func (t *entTx) Exec(ctx context.Context, query string, args, v any) error {
	return execOn(ctx, t.tx, query, args, v)
}

// Query implements dialect.ExecQuerier. The rows do not give the
// connection back: the transaction holds it until it ends.
func (t *entTx) Query(ctx context.Context, query string, args, v any) error {
	return queryOn(ctx, t.tx, query, args, v, nil)
}

// Commit implements driver.Tx.
func (t *entTx) Commit() error {
	if t.conn == nil {
		return sql.ErrTxDone
	}
	err := t.tx.Commit(t.ctx)
	t.release()
	return err
}

// Rollback implements driver.Tx. It does not use the transaction's
// context: a request that was cancelled must still roll back cleanly and
// give its connection back.
func (t *entTx) Rollback() error {
	if t.conn == nil {
		return sql.ErrTxDone
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), rollbackTimeout)
	defer cancel()
	err := t.tx.Rollback(ctx)
	t.release()
	return err
}

// rollbackTimeout bounds a rollback on a connection that stopped
// answering; past it pgx closes the connection, which rolls back too.
const rollbackTimeout = 5 * time.Second

func (t *entTx) release() {
	t.conn.Release()
	t.conn = nil
}

// pgxRows gives pgx rows the database/sql shape Ent scans from.
type pgxRows struct {
	rows pgx.Rows
	// release gives the connection back to the pool; nil inside a
	// transaction, whose connection stays borrowed until it ends.
	release func()
}

// Next implements entsql.ColumnScanner. Past the last row the connection
// goes back to the pool at once rather than when Ent closes the rows.
func (r *pgxRows) Next() bool {
	if r.rows.Next() {
		return true
	}
	r.done()
	return false
}

// Close implements entsql.ColumnScanner.
func (r *pgxRows) Close() error {
	r.done()
	return nil
}

func (r *pgxRows) done() {
	r.rows.Close()
	if r.release != nil {
		r.release()
		r.release = nil
	}
}

// Err implements entsql.ColumnScanner.
func (r *pgxRows) Err() error { return r.rows.Err() }

// Scan implements entsql.ColumnScanner. pgx scans into Ent's destinations
// (sql.Null* and other sql.Scanner types, plain Go values, *any) directly.
func (r *pgxRows) Scan(dest ...any) error { return r.rows.Scan(dest...) }

// Columns implements entsql.ColumnScanner.
func (r *pgxRows) Columns() ([]string, error) {
	fds := r.rows.FieldDescriptions()
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = fd.Name
	}
	return names, nil
}

// errNoColumnTypes is what ColumnTypes answers: *sql.ColumnType can only be
// made by database/sql. Ent asks only to pick a destination for a column
// it does not know (entsql.ScanTypeOf), and falls back to *any on an error.
var errNoColumnTypes = errors.New("database: column types are not available on the pgx driver")

// ColumnTypes implements entsql.ColumnScanner.
func (r *pgxRows) ColumnTypes() ([]*sql.ColumnType, error) { return nil, errNoColumnTypes }

// NextResultSet implements entsql.ColumnScanner: a pgx query has one.
func (r *pgxRows) NextResultSet() bool { return false }

func argsOf(args any) ([]any, error) {
	switch a := args.(type) {
	case nil:
		return nil, nil
	case []any:
		return a, nil
	}
	return nil, fmt.Errorf("database: Ent arguments must be []any, got %T", args)
}

// setResult stores the command tag where Ent asked for a sql.Result.
func setResult(v any, tag pgconn.CommandTag) error {
	switch v := v.(type) {
	case nil:
		return nil
	case *sql.Result:
		*v = result(tag.RowsAffected())
		return nil
	}
	return fmt.Errorf("database: Ent exec wants *sql.Result, got %T", v)
}

// result is the sql.Result of a statement run through pgx.
type result int64

// LastInsertId implements sql.Result; PostgreSQL has none (Ent uses
// RETURNING).
func (result) LastInsertId() (int64, error) {
	return 0, errors.New("database: LastInsertId is not supported by PostgreSQL; use RETURNING")
}

// RowsAffected implements sql.Result.
func (r result) RowsAffected() (int64, error) { return int64(r), nil }
