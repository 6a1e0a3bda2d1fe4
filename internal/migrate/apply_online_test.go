package migrate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	entschema "entgo.io/ent/dialect/sql/schema"

	"accounts/internal/syncbuf"
)

// txModeNoneDirective starts a migration file whose statements run outside
// a transaction; the blank line after it makes it a file directive rather
// than a statement's comment.
const txModeNoneDirective = "-- atlas:txmode none\n\n"

// indexValid reports whether index name exists (ok) and is valid.
func indexValid(t *testing.T, db *sql.DB, name string) (valid, ok bool) {
	t.Helper()
	err := db.QueryRow(`SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`, name).Scan(&valid)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return valid, true
}

// An index added to and one dropped from an existing table are written
// CONCURRENTLY in a file marked `-- atlas:txmode none`, and apply runs it
// (PostgreSQL refuses CONCURRENTLY inside a transaction).
func TestDiffWritesConcurrentIndexFileThatApplies(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	desired := serviceState()
	desired.Tables = entTables()
	users := tableByName(t, desired.Tables, "users")
	kept := users.Indexes[:0]
	var active *entschema.Column
	for _, c := range users.Columns {
		if c.Name == "is_active" {
			active = c
		}
	}
	for _, idx := range users.Indexes {
		if idx.Name != "ix_users_created_at_id" {
			kept = append(kept, idx)
		}
	}
	users.Indexes = append(kept, &entschema.Index{Name: "ix_users_is_active", Columns: []*entschema.Column{active}})
	res, err := Diff(ctx, dir, DiffOptions{Name: "online_index", Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.SQL, txModeNoneDirective) ||
		!strings.Contains(res.SQL, `CREATE INDEX CONCURRENTLY "ix_users_is_active" ON "users" ("is_active")`) ||
		!strings.Contains(res.SQL, `DROP INDEX CONCURRENTLY "ix_users_created_at_id"`) {
		t.Fatalf("diff wrote:\n%s", res.SQL)
	}
	var out bytes.Buffer
	if _, err := Apply(ctx, db, dir, ApplyOptions{Out: &out}); err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if valid, ok := indexValid(t, db, "ix_users_is_active"); !ok || !valid {
		t.Errorf("ix_users_is_active after apply: exists %v, valid %v", ok, valid)
	}
	if _, ok := indexValid(t, db, "ix_users_created_at_id"); ok {
		t.Error("ix_users_created_at_id survived apply")
	}
}

// A CREATE INDEX CONCURRENTLY that fails leaves an INVALID index behind:
// apply drops it at once and says so, and once the cause is fixed the next
// apply builds the index.
func TestApplyDropsInvalidIndexOfFailedBuild(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := initialDir(t)
	addFile(t, dir, "29990101000000_nicknames.sql",
		"ALTER TABLE users ADD COLUMN nickname text;\n")
	addFile(t, dir, "29990101000001_unique_nickname.sql",
		txModeNoneDirective+"CREATE INDEX CONCURRENTLY ix_users_role ON users (role);\nCREATE UNIQUE INDEX CONCURRENTLY \"ux_users_nickname\" ON users (nickname);\n")
	db, _ := newDB(t)
	if _, err := Apply(ctx, db, dir, ApplyOptions{N: 2}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, nickname) VALUES (gen_random_uuid(), $1, '\x00', 'dup')`, name); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	_, err := Apply(ctx, db, dir, ApplyOptions{Out: &out})
	var se *StatementError
	if !errors.As(err, &se) || se.Index != 2 || !strings.Contains(se.Error(), "could not create unique index") ||
		!strings.Contains(se.Error(), `dropped the INVALID index "ux_users_nickname"`) {
		t.Fatalf("apply on duplicate nicknames: %v\n%s", err, out.String())
	}
	if valid, ok := indexValid(t, db, "ux_users_nickname"); ok {
		t.Fatalf("the failed build left its index: valid %v", valid)
	}
	if _, err := db.ExecContext(ctx, `UPDATE users SET nickname = username`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := Apply(ctx, db, dir, ApplyOptions{Out: &out}); err != nil {
		t.Fatalf("apply after fixing the data: %v\n%s", err, out.String())
	}
	if valid, ok := indexValid(t, db, "ux_users_nickname"); !ok || !valid {
		t.Fatalf("after the second apply: exists %v, valid %v", ok, valid)
	}
	if rows := revisionRows(t, db); len(rows) != 3 || rows[2].Error.String != "" || rows[2].Applied != 2 {
		t.Errorf("revisions: %+v", rows)
	}
}

// blockedAlter returns a migrated database, a directory whose pending file
// creates a table and then alters users, and a transaction holding a lock on users that the ALTER
// TABLE must wait for, ended by release.
func blockedAlter(t *testing.T, ctx context.Context) (db *sql.DB, dir *atlasmigrate.LocalDir, release func()) {
	t.Helper()
	dir = initialDir(t)
	db, _ = newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	addFile(t, dir, "29990101000000_nickname.sql", "CREATE TABLE notes (id bigint PRIMARY KEY);\nALTER TABLE users ADD COLUMN nickname text;\n")
	return db, dir, holdAccessShare(t, ctx, db)
}

// holdAccessShare opens a transaction that has read users, so it holds an
// ACCESS SHARE lock on it until release is called: an ALTER TABLE users
// must wait for it.
func holdAccessShare(t *testing.T, ctx context.Context, db *sql.DB) (release func()) {
	t.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT count(*) FROM users`); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// readWhile reads users in a loop until stop is closed and counts failed
// reads; each read may wait at most limit (a read queued behind a waiting
// ALTER TABLE waits up to its lock_timeout).
func readWhile(ctx context.Context, db *sql.DB, limit time.Duration, stop <-chan struct{}) (reads, failed *atomic.Int64, done <-chan struct{}) {
	reads, failed = new(atomic.Int64), new(atomic.Int64)
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			select {
			case <-stop:
				return
			default:
			}
			rctx, cancel := context.WithTimeout(ctx, limit)
			var n int
			err := db.QueryRowContext(rctx, `SELECT count(*) FROM users`).Scan(&n)
			cancel()
			reads.Add(1)
			if err != nil {
				failed.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return reads, failed, ch
}

// An ALTER TABLE stuck behind a long transaction gives up after
// lock_timeout and is retried with backoff, each wait printed, while reads
// of the table keep succeeding; it goes through once the transaction ends.
// Without a transaction the retry resumes at the statement that timed out.
func TestApplyRetriesStatementAfterLockTimeout(t *testing.T) {
	t.Parallel()
	for _, mode := range []TxMode{TxModeFile, TxModeNone} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			applyRetriesAfterLockTimeout(t, mode)
		})
	}
}

func applyRetriesAfterLockTimeout(t *testing.T, mode TxMode) {
	ctx := ctxFor(t)
	db, dir, release := blockedAlter(t, ctx)
	stop := make(chan struct{})
	reads, failed, readsDone := readWhile(ctx, db, 5*time.Second, stop)
	out := &syncbuf.Buffer{}
	applied := make(chan error, 1)
	go func() {
		_, err := Apply(ctx, db, dir, ApplyOptions{Out: out, TxMode: mode, StatementLockTimeout: 200 * time.Millisecond, LockRetries: 10, LockRetryBackoff: 100 * time.Millisecond})
		applied <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(out.String(), "waited lock_timeout") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	release()
	if err := <-applied; err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	close(stop)
	<-readsDone
	if n := strings.Count(out.String(), "waited lock_timeout (200ms)"); n < 2 {
		t.Errorf("want at least 2 printed waits, got %d:\n%s", n, out.String())
	}
	if reads.Load() == 0 || failed.Load() != 0 {
		t.Errorf("%d of %d reads failed while apply waited", failed.Load(), reads.Load())
	}
	if _, ok := inspectTable(t, db, "users").Column("nickname"); !ok {
		t.Error("nickname not added")
	}
	if rows := revisionRows(t, db); len(rows) != 2 || rows[1].Applied != 2 || rows[1].Error.String != "" {
		t.Errorf("revisions: %+v", rows)
	}
}

// When the blocking transaction outlasts every retry, apply gives up with
// the lock-timeout error after the configured number of retries and the
// file stays unapplied.
func TestApplyGivesUpAfterLockRetries(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, dir, _ := blockedAlter(t, ctx)
	stop := make(chan struct{})
	reads, failed, readsDone := readWhile(ctx, db, 5*time.Second, stop)
	var out bytes.Buffer
	start := time.Now()
	_, err := Apply(ctx, db, dir, ApplyOptions{Out: &out, StatementLockTimeout: 100 * time.Millisecond, LockRetries: 2, LockRetryBackoff: 50 * time.Millisecond})
	took := time.Since(start)
	close(stop)
	<-readsDone
	if !isLockTimeout(err) {
		t.Fatalf("want a lock timeout error, got %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "waited lock_timeout"); n != 2 {
		t.Errorf("want 2 printed retries, got %d:\n%s", n, out.String())
	}
	if took > 20*time.Second {
		t.Errorf("apply took %s to give up", took)
	}
	if reads.Load() == 0 || failed.Load() != 0 {
		t.Errorf("%d of %d reads failed while apply waited", failed.Load(), reads.Load())
	}
	if _, ok := inspectTable(t, db, "users").Column("nickname"); ok {
		t.Error("nickname added although apply failed")
	}
	var lt string
	if err := db.QueryRowContext(ctx, "SHOW lock_timeout").Scan(&lt); err != nil || lt != "0" {
		t.Errorf("lock_timeout leaked to the pool: %q (%v)", lt, err)
	}
}

func inspectTable(t *testing.T, db *sql.DB, name string) *schema.Table {
	t.Helper()
	tb, ok := inspect(t, db).Table(name)
	if !ok {
		t.Fatalf("no table %s", name)
	}
	return tb
}

// holdRowExclusive opens a transaction holding ROW EXCLUSIVE on users, as
// one that wrote to it would: a CREATE INDEX CONCURRENTLY on users creates
// its (INVALID) index, then waits for it to end.
func holdRowExclusive(t *testing.T, ctx context.Context, db *sql.DB) (release func()) {
	t.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE users IN ROW EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// concurrentIndexDir is a migrated database and a directory whose pending
// file builds an index on users CONCURRENTLY.
func concurrentIndexDir(t *testing.T, ctx context.Context) (*sql.DB, *atlasmigrate.LocalDir) {
	t.Helper()
	dir := serviceDir(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	addFile(t, dir, "29990101000000_role_index.sql", txModeNoneDirective+`CREATE INDEX CONCURRENTLY "ix_users_role" ON "users" ("role");`+"\n")
	return db, dir
}

// A concurrent build whose backend is killed while it waits leaves an
// INVALID index; the next apply rebuilds it.
func TestApplyRebuildsIndexOfKilledBuild(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, dir := concurrentIndexDir(t, ctx)
	release := holdRowExclusive(t, ctx, db)
	applied := make(chan error, 1)
	go func() {
		_, err := Apply(ctx, db, dir, ApplyOptions{StatementLockTimeout: -1})
		applied <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var killed bool
		err := db.QueryRowContext(ctx, `SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'`).Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
		if killed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the concurrent build never waited")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := <-applied; err == nil {
		t.Fatal("apply survived the killed backend")
	}
	release()
	if valid, ok := indexValid(t, db, "ix_users_role"); !ok || valid {
		t.Fatalf("the killed build should leave an INVALID index: exists %v, valid %v", ok, valid)
	}
	var out bytes.Buffer
	if _, err := Apply(ctx, db, dir, ApplyOptions{Out: &out}); err != nil {
		t.Fatalf("apply after the killed build: %v\n%s", err, out.String())
	}
	if valid, ok := indexValid(t, db, "ix_users_role"); !ok || !valid || !strings.Contains(out.String(), "ix_users_role is INVALID") {
		t.Fatalf("after the second apply: exists %v, valid %v\n%s", ok, valid, out.String())
	}
}

// A concurrent build that times out waiting for a writer's transaction
// leaves an INVALID index too; the retry drops it and builds it again once
// the transaction has ended.
func TestApplyRetriesTimedOutConcurrentBuild(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, dir := concurrentIndexDir(t, ctx)
	release := holdRowExclusive(t, ctx, db)
	out := &syncbuf.Buffer{}
	applied := make(chan error, 1)
	go func() {
		_, err := Apply(ctx, db, dir, ApplyOptions{Out: out, StatementLockTimeout: 200 * time.Millisecond, LockRetries: 20, LockRetryBackoff: 100 * time.Millisecond})
		applied <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(out.String(), "waited lock_timeout") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	release()
	if err := <-applied; err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if valid, ok := indexValid(t, db, "ix_users_role"); !ok || !valid {
		t.Fatalf("after apply: exists %v, valid %v\n%s", ok, valid, out.String())
	}
	if !strings.Contains(out.String(), "ix_users_role is INVALID") {
		t.Errorf("apply did not say it rebuilt the index:\n%s", out.String())
	}
}
