package main

import (
	"context"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/internal/testdb"
)

// backfillFile is a long migration: a backfill, a new column and an index
// in one file, hence one transaction. Its pg_sleep lasts a minute only on
// a connection that sets accounts_test.slow, so the first run can be killed
// in the middle of the file and the second runs through.
const backfillFile = `-- A long data migration, for TestKilledMigration.
CREATE TABLE "backfill" ("id" bigint NOT NULL, PRIMARY KEY ("id"));
INSERT INTO "backfill" ("id") SELECT g FROM generate_series(1, 100000) AS g;
ALTER TABLE "users" ADD COLUMN "nickname" character varying NULL;
SELECT pg_sleep(CASE WHEN current_setting('accounts_test.slow', true) = 'on' THEN 60 ELSE 0 END);
CREATE INDEX "backfill_mod" ON "backfill" (("id" % 7));
`

const backfillVersion = "20990101000000"

// TestKilledMigration runs `accounts migrate apply` as a process of its
// own on a directory whose last file is long, kills it with SIGKILL in the
// middle of that file, and checks that
//
//   - the backend the dead client left behind ends by itself within a few
//     seconds (apply sets client_connection_check_interval, so the server
//     notices the closed socket while the statement runs), rolling the
//     file back and releasing the migration lock and the file's locks;
//   - the schema is as before the file: no table, no column, no revision
//     row marked applied;
//   - the next `migrate apply` completes the file.
func TestKilledMigration(t *testing.T) {
	directOnly(t)
	t.Parallel()
	accountsBinary(t)
	dbURL, dbPassword := secretDatabaseURL(t, testdb.URL(t))
	suiteSecrets.add(t.Name(), dbPassword)
	dir := migrationDirWith(t, map[string]string{backfillVersion + "_backfill.sql": backfillFile})
	env := map[string]string{"DATABASE_URL": dbURL, "ACCOUNTS_LOG_FORMAT": "json"}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	version := func() string {
		var v string
		if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), '') FROM atlas_schema_revisions.atlas_schema_revisions
			WHERE version <> '.atlas_cloud_identifier' AND applied = total AND coalesce(error, '') = ''`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()

	slowURL, _ := url.Parse(dbURL)
	q := slowURL.Query()
	q.Set("options", "-c accounts_test.slow=on")
	slowURL.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	slowEnv := map[string]string{"DATABASE_URL": slowURL.String(), "ACCOUNTS_LOG_FORMAT": "json"}
	first := startProc(t, slowEnv, "migrate", "apply", "--dir", dir)
	pid := waitSlowStatement(t, conn, first)
	first.signal(t, syscall.SIGKILL)
	first.wait(t, 10*time.Second)
	killed := time.Now()

	// The backend of the dead client: it holds the migration lock and an
	// ACCESS EXCLUSIVE lock on users (the ALTER TABLE) until it ends.
	orphanFor := waitBackendGone(t, conn, pid, killed)

	// The schema is as before the file.
	var table, column, revisions int
	if err := conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_tables WHERE tablename = 'backfill'),
		(SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'),
		(SELECT count(*) FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = $1 AND applied > 0)`, backfillVersion).
		Scan(&table, &column, &revisions); err != nil {
		t.Fatal(err)
	}
	if table != 0 || column != 0 || revisions != 0 || version() != before {
		t.Fatalf("after the kill: backfill tables %d, nickname columns %d, revision rows applied %d, version %q (was %q)",
			table, column, revisions, version(), before)
	}

	// The next run applies the file whole.
	second := startProc(t, env, "migrate", "apply", "--dir", dir)
	if code := second.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("the second migrate apply exited %d:\n%s\n%s", code, second.stdout.String(), second.stderr.String())
	}
	var rows, stmts, total int
	if err := conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM backfill),
		(SELECT applied FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = $1),
		(SELECT total FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = $1)`, backfillVersion).
		Scan(&rows, &stmts, &total); err != nil {
		t.Fatal(err)
	}
	if rows != 100000 || stmts != 5 || total != 5 || version() != backfillVersion {
		t.Fatalf("after the second run: %d backfill rows, %d of %d statements applied, version %q", rows, stmts, total, version())
	}
	t.Logf("killed with SIGKILL during statement 4 of 5; its backend ended %s later; schema unchanged (version %s); the second apply said:\n%s",
		orphanFor.Round(time.Millisecond), before, strings.TrimSpace(second.stdout.String()))
}

// waitSlowStatement returns the backend pid of the slow statement of the
// migration first runs, within 30 seconds.
func waitSlowStatement(t *testing.T, conn *pgx.Conn, first *proc) int {
	t.Helper()
	ctx := context.Background()
	var pid int
	for deadline := time.Now().Add(30 * time.Second); ; {
		err := conn.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep%'`).Scan(&pid)
		if err == nil {
			break
		}
		select {
		case <-first.done:
			deadline = time.Now()
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow statement never ran: %v\nstdout:\n%s\nstderr:\n%s", err, first.stdout.String(), first.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return pid
}

// waitBackendGone waits for the backend pid of a killed client to end and
// returns how long after killed it did; past 10 seconds it ends it, as an
// operator would, and fails the test.
func waitBackendGone(t *testing.T, conn *pgx.Conn, pid int, killed time.Time) time.Duration {
	t.Helper()
	ctx := context.Background()
	var orphanFor time.Duration
	for {
		var alive bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, pid).Scan(&alive); err != nil {
			t.Fatal(err)
		}
		orphanFor = time.Since(killed)
		if !alive {
			break
		}
		if orphanFor > 10*time.Second {
			// As an operator would: end it, and say the check did not.
			_, _ = conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
			t.Errorf("the backend of the killed migrate still ran its statement %s later; the server did not notice the lost client", orphanFor.Round(time.Millisecond))
			time.Sleep(500 * time.Millisecond)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return orphanFor
}
