package main

import (
	"database/sql"
	"regexp"
	"strings"
	"testing"
)

// migrate drift exits 0 on a database its files made, and 1, listing the
// object, once a DBA added one; migrate status shows the same.
func TestMigrateDriftCommand(t *testing.T) {
	t.Parallel()
	url := emptyDatabase(t)
	env := map[string]string{"DATABASE_URL": url, "ACCOUNTS_LOG_LEVEL": "warn"}
	if out, _, err := runCapture(env, "migrate", "apply"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if out, _, err := runCapture(env, "migrate", "drift"); err != nil || !strings.Contains(out, "Drift:           none") {
		t.Fatalf("drift of a migrated database: %v\n%s", err, out)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.Exec("CREATE INDEX ix_dba_users_active ON users (is_active)"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCapture(env, "migrate", "drift")
	if err == nil || !strings.Contains(out, "extra (only in the database): table users: index ix_dba_users_active") {
		t.Fatalf("drift after a DBA's index: %v\n%s", err, out)
	}
	out, _, err = runCapture(env, "migrate", "status")
	// Every file applied, however many the service has.
	files := regexp.MustCompile(`Files:\s+(\d+) \(applied (\d+)`).FindStringSubmatch(out)
	if err != nil || !strings.Contains(out, "ix_dba_users_active") || files == nil || files[1] != files[2] {
		t.Fatalf("status: %v\n%s", err, out)
	}
}

// apply --dry-run --from prints SQL with no database to reach.
func TestMigrateApplyDryRunOffline(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", "ACCOUNTS_LOG_LEVEL": "warn"}
	out, _, err := runCapture(env, "migrate", "apply", "--dry-run", "--from", "none")
	if err != nil || !strings.Contains(out, `CREATE TABLE "users"`) || !strings.Contains(out, "offline") {
		t.Fatalf("offline dry run: %v\n%s", err, out)
	}
	if _, _, err := runCapture(env, "migrate", "apply", "--from", "none"); err == nil || !strings.Contains(err.Error(), "--dry-run") {
		t.Errorf("--from without --dry-run: %v", err)
	}
}
