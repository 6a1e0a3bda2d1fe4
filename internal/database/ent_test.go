package database_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"accounts/ent"
	_ "accounts/ent/runtime"
	entuser "accounts/ent/user"
	"accounts/internal/database"
	"accounts/internal/testdb"
)

// addUser creates a user through Ent and returns it.
func addUser(t *testing.T, client *ent.Client, name string) *ent.User {
	t.Helper()
	u, err := client.User.Create().SetUsername(name).SetPasswordHash([]byte{1, 2, 3}).Save(context.Background())
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return u
}

// borrowed is how many pool connections are out of the pool.
func borrowed(db *database.DB) int32 { return db.Stat().AcquiredConns() }

// borrowedAfter is borrowed once it reaches 0, or when wait has passed.
func borrowedAfter(db *database.DB, wait time.Duration) int32 {
	deadline := time.Now().Add(wait)
	for borrowed(db) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return borrowed(db)
}

// TestEntRoundTrip writes and reads every column type of the schema
// through the Ent client on the opened stack, and checks that no
// connection stays borrowed afterwards, whether the rows were read to the
// end or not: database/sql keeps no connection of its own.
func TestEntRoundTrip(t *testing.T) {
	t.Parallel()
	db := open(t, settings(t, testdb.URL(t)), discard)
	ctx := context.Background()
	made, err := db.Ent.User.Create().SetUsername("round").SetPasswordHash([]byte{0, 1, 255}).
		SetRole(entuser.RoleSUPER_ADMIN).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Ent.User.Get(ctx, made.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != made.ID || got.Username != "round" || string(got.PasswordHash) != "\x00\x01\xff" ||
		got.Role != entuser.RoleSUPER_ADMIN || !got.IsActive || !got.CreatedAt.Equal(made.CreatedAt.Truncate(time.Microsecond)) {
		t.Fatalf("read back %+v (created %s), wrote %+v (created %s)", got, got.CreatedAt, made, made.CreatedAt)
	}
	for i := range 5 {
		addUser(t, db.Ent, "more"+string(rune('a'+i)))
	}
	// Count, a projection into strings, and a first row of many: the last
	// leaves rows unread, so only Close can give the connection back.
	if n, err := db.Ent.User.Query().Count(ctx); err != nil || n != 6 {
		t.Fatalf("count = %d, %v; want 6", n, err)
	}
	names, err := db.Ent.User.Query().Order(ent.Asc(entuser.FieldUsername)).Select(entuser.FieldUsername).Strings(ctx)
	if err != nil || len(names) != 6 || names[0] != "morea" {
		t.Fatalf("names = %v, %v", names, err)
	}
	if _, err := db.Ent.User.Query().Order(ent.Asc(entuser.FieldUsername)).First(ctx); err != nil {
		t.Fatal(err)
	}
	// A column Ent does not know is scanned through its *any fallback.
	var extra []struct {
		ID    uuid.UUID `sql:"id"`
		Lower string    `sql:"lower_name"`
	}
	err = db.Ent.User.Query().Where(entuser.ID(made.ID)).Select(entuser.FieldID).
		Modify(func(s *entsql.Selector) { s.AppendSelectExprAs(entsql.Expr("upper(username)"), "lower_name") }).
		Scan(ctx, &extra)
	if err != nil || len(extra) != 1 || extra[0].Lower != "ROUND" {
		t.Fatalf("modified select = %+v, %v", extra, err)
	}
	if n, err := db.Ent.User.Update().Where(entuser.UsernameHasPrefix("more")).SetIsActive(false).Save(ctx); err != nil || n != 5 {
		t.Fatalf("update affected %d, %v; want 5", n, err)
	}
	if _, err := db.Ent.User.Get(ctx, uuid.New()); !ent.IsNotFound(err) {
		t.Fatalf("missing id: %v, want not found", err)
	}
	if n := borrowed(db); n != 0 {
		t.Fatalf("%d connections still borrowed", n)
	}
}

// TestEntErrors checks that PostgreSQL's errors reach the service's
// storage boundary: the *pgconn.PgError with its code and constraint,
// wrapped by Ent's constraint error.
func TestEntErrors(t *testing.T) {
	t.Parallel()
	db := open(t, settings(t, testdb.URL(t)), discard)
	addUser(t, db.Ent, "taken")
	_, err := db.Ent.User.Create().SetUsername("TAKEN").SetPasswordHash([]byte{1}).Save(context.Background())
	var pe *pgconn.PgError
	if !ent.IsConstraintError(err) || !errors.As(err, &pe) || pe.Code != "23505" || pe.ConstraintName != "ux_users_username_lower" {
		t.Fatalf("duplicate username: %v (pg error %+v)", err, pe)
	}
	if n := borrowed(db); n != 0 {
		t.Fatalf("%d connections still borrowed after an error", n)
	}
}

// TestEntTransactions checks commit, rollback, options, and that a
// transaction whose context was cancelled is not committed.
func TestEntTransactions(t *testing.T) {
	t.Parallel()
	db := open(t, settings(t, testdb.URL(t)), discard)
	ctx := context.Background()
	exists := func(name string) bool {
		ok, err := db.Ent.User.Query().Where(entuser.Username(name)).Exist(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	run := func(ctx context.Context, opts *sql.TxOptions, name string, commit bool) error {
		tx, err := db.Ent.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		if _, err := tx.User.Create().SetUsername(name).SetPasswordHash([]byte{1}).Save(ctx); err != nil {
			_ = tx.Rollback()
			return err
		}
		if commit {
			return tx.Commit()
		}
		return tx.Rollback()
	}
	if err := run(ctx, nil, "committed", true); err != nil || !exists("committed") {
		t.Fatalf("commit: %v, row there: %v", err, exists("committed"))
	}
	if err := run(ctx, nil, "rolledback", false); err != nil || exists("rolledback") {
		t.Fatalf("rollback: %v, row there: %v", err, exists("rolledback"))
	}
	err := run(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable, ReadOnly: true}, "readonly", true)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25006" {
		t.Fatalf("write in a read-only transaction: %v, want SQLSTATE 25006", err)
	}
	if err := run(ctx, &sql.TxOptions{Isolation: sql.LevelLinearizable}, "linear", true); err == nil ||
		!strings.Contains(err.Error(), "isolation") {
		t.Fatalf("unknown isolation level: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	tx, err := db.Ent.Tx(cctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.User.Create().SetUsername("cancelled").SetPasswordHash([]byte{1}).Save(cctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tx.Commit(); err == nil {
		t.Fatal("commit after the context was cancelled succeeded")
	}
	if exists("cancelled") {
		t.Fatal("a transaction whose context was cancelled was committed")
	}
	if err := tx.Rollback(); err == nil {
		t.Fatal("rollback after commit reported success")
	}
	// database/sql ends a transaction whose context was cancelled from a
	// goroutine of its own, so the connection comes back shortly after the
	// cancel, not at it: wait for it, but not for ever.
	if n := borrowedAfter(db, 5*time.Second); n != 0 {
		t.Fatalf("%d connections still borrowed 5s after the transactions", n)
	}
}

// TestEntPoolExhausted checks pool_timeout on the Ent path: a query that
// finds every connection borrowed gives up after pool_timeout, and an open
// transaction holds its connection until it ends.
func TestEntPoolExhausted(t *testing.T) {
	t.Parallel()
	d := settings(t, testdb.URL(t))
	d.PoolSize, d.MaxOverflow = 1, 0
	d.PoolTimeout = 300 * time.Millisecond
	db := open(t, d, discard)
	ctx := context.Background()
	tx, err := db.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = db.Ent.User.Query().Count(ctx)
	waited := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || waited < d.PoolTimeout || waited > d.PoolTimeout+time.Second {
		t.Fatalf("after %s: %v, want the acquire's deadline after %s", waited, err, d.PoolTimeout)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ent.User.Query().Count(ctx); err != nil {
		t.Fatalf("after the transaction ended: %v", err)
	}
}

// TestEntRetriesDeadIdleConnection closes the socket of the pool's only
// connection behind pgx's back, as a server or a firewall does to an idle
// connection, with pre-ping off so the pool hands it out: the next query
// fails to send, nothing reached the server, and database/sql runs it
// again on a new connection (pgx's stdlib answers driver.ErrBadConn)
// instead of failing the request.
func TestEntRetriesDeadIdleConnection(t *testing.T) {
	t.Parallel()
	d := settings(t, testdb.URL(t))
	d.PoolSize, d.MaxOverflow = 1, 0
	d.PrePing = false
	db := open(t, d, discard)
	ctx := context.Background()
	addUser(t, db.Ent, "first")
	c, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dead uint32
	err = c.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn().PgConn()
		dead = pc.PID()
		return pc.Conn().Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	var pids []struct {
		PID uint32 `sql:"pid"`
	}
	err = db.Ent.User.Query().Modify(func(s *entsql.Selector) {
		s.Select(entsql.As("pg_backend_pid()", "pid"))
	}).Scan(ctx, &pids)
	if err != nil {
		t.Fatalf("query after the idle connection died: %v", err)
	}
	if len(pids) != 1 || pids[0].PID == dead {
		t.Fatalf("served by %+v; the dead connection was %d", pids, dead)
	}
}
