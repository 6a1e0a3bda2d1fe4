package main

import (
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"accounts/internal/testdb"
	"accounts/migrations"
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

// TestUnmigratedDatabaseAnswers503 (issue 30, finding 3): serve on a
// database nobody migrated is not ready, and says what to run; the API
// answers 503 problem+json with Retry-After instead of a 500 from a
// missing table; the state is logged once, not per probe; and once the
// migrations are applied the API serves without a restart or a probe.
func TestUnmigratedDatabaseAnswers503(t *testing.T) {
	t.Parallel()
	s := startServerOn(t, emptyDatabase(t), nil)
	c := s.newClient(false)
	r := c.do("POST", "/api/v1/account/signup", map[string]string{"username": "early1", "password": "early-password"})
	expect(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("503 before the migrations with Retry-After %q", r.Header.Get("Retry-After"))
	}
	for range 3 {
		r := c.do("GET", "/readyz", nil)
		expect(t, r, http.StatusServiceUnavailable, "service_unavailable")
		want := fmt.Sprintf("%d migrations pending: run `accounts migrate apply` or start with --migrate", migrationCount(t))
		if d := r.problem(t).Detail; !strings.Contains(d, want) {
			t.Fatalf("/readyz detail %q does not say %q", d, want)
		}
	}
	if n := len(s.logLines(map[string]any{"msg": "not ready", "level": "WARN"})); n != 1 {
		t.Errorf("%d WARN lines \"not ready\" after 3 probes, want 1 (once per change of state)", n)
	}
	if errs := s.logLines(map[string]any{"level": "ERROR"}); len(errs) > 0 {
		t.Errorf("ERROR lines while the database is behind: %v", errs)
	}

	if _, stderr, err := runCapture(map[string]string{"DATABASE_URL": s.dbURL}, "migrate", "apply"); err != nil {
		t.Fatalf("migrate apply: %v\n%s", err, stderr)
	}
	// No probe: the process notices by itself.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := c.do("POST", "/api/v1/account/signup", map[string]string{"username": "later1", "password": "later-password"})
		if r.StatusCode == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after migrate apply the API still answers %d: %s", r.StatusCode, r.body)
		}
	}
	expect(t, c.do("GET", "/readyz", nil), http.StatusOK)
	if n := len(s.logLines(map[string]any{"msg": "ready", "level": "INFO"})); n != 1 {
		t.Errorf("%d INFO lines \"ready\" after the migrations, want 1", n)
	}
}

// migrationCount is the number of migration files the binary embeds.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}
