package main

import (
	"net/http"
	"strings"
	"testing"

	"accounts/internal/testdb"
)

// deployFiles follow the embedded migrations in the readiness tests: two
// additive files, so that the database can lack one that is not the last.
var deployFiles = map[string]string{
	"20990201000001_notes.sql":      `CREATE TABLE "notes" ("id" bigint NOT NULL, PRIMARY KEY ("id"));` + "\n",
	"20990201000002_notes_body.sql": `ALTER TABLE "notes" ADD COLUMN "body" text NULL;` + "\n",
}

// TestReadinessNamesTheMissingFile: /readyz is 200 only when every file of
// the build's migration directory is applied. A database that lacks one of
// them answers 503 naming that file, even when its newest revision is the
// build's last file (a file skipped, or its revision deleted), and a file
// whose revision recorded an error is named as failed.
func TestReadinessNamesTheMissingFile(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	dir := migrationDirWith(t, deployFiles)
	if _, stderr, err := runCapture(map[string]string{"DATABASE_URL": dbURL, "ACCOUNTS_MIGRATE_DIR": dir}, "migrate", "apply"); err != nil {
		t.Fatalf("migrate apply: %v\n%s", err, stderr)
	}
	env := map[string]string{"ACCOUNTS_MIGRATE_DIR": dir}
	var s *server
	if bouncer := bouncerFor(t); bouncer != nil {
		s = bouncer.startServer(t, dbURL, env)
	} else {
		s = startServerOn(t, dbURL, env)
	}
	c := s.newClient(false)
	expect(t, c.do("GET", "/readyz", nil), http.StatusOK)

	// The middle file's revision is gone: the newest is still the head.
	s.sql(`DELETE FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = '20990201000001'`)
	r := c.do("GET", "/readyz", nil)
	expect(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if d := r.problem(t).Detail; !strings.Contains(d, "20990201000001_notes.sql") || strings.Contains(d, "20990201000002") {
		t.Errorf("readyz detail %q does not name the one missing file 20990201000001_notes.sql", d)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("a 503 from /readyz without Retry-After")
	}

	// A failed file is named as such.
	s.sql(`UPDATE atlas_schema_revisions.atlas_schema_revisions SET error = 'boom', error_stmt = 'ALTER TABLE', applied = 0
		WHERE version = '20990201000002'`)
	r = c.do("GET", "/readyz", nil)
	expect(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if d := r.problem(t).Detail; !strings.Contains(d, "20990201000001_notes.sql") || !strings.Contains(d, "20990201000002_notes_body.sql (failed") {
		t.Errorf("readyz detail %q does not name both files, the second as failed", d)
	}
}

// TestOldReleaseStartsOnAFailedNewerMigration: the next release's
// migration failed part-way (a file with `-- atlas:txmode none` stops
// between statements), and a replica of the current release restarts with
// `serve --migrate`. The database has every file of this build, so the
// replica has nothing to apply: it must start, be ready, and say at INFO
// that the database has a newer migration, and that it failed.
func TestOldReleaseStartsOnAFailedNewerMigration(t *testing.T) {
	directOnly(t)
	t.Parallel()
	dbURL := testdb.URL(t)
	s := startServerOn(t, dbURL, nil)
	s.sql(`INSERT INTO atlas_schema_revisions.atlas_schema_revisions
		(version, description, type, applied, total, executed_at, execution_time, error, error_stmt, hash, operator_version)
		VALUES ($1, 'nickname', 2, 1, 2, now(), 0, 'canceling statement due to lock timeout', 'CREATE INDEX CONCURRENTLY …', 'h', 'accounts next')`, expandVersion)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	again := startServerOn(t, dbURL, map[string]string{"ACCOUNTS_MIGRATE_ON_START": "true"})
	expect(t, again.newClient(false).do("GET", "/readyz", nil), http.StatusOK)
	want := "database has 1 migration newer than this build: " + expandName + " (failed at statement 2 of 2)"
	if lines := logLinesOf(again.stderr.String(), want); len(lines) != 1 || lines[0]["level"] != "INFO" {
		t.Errorf("no INFO line %q:\n%s", want, again.stderr.String())
	}
}
