package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestMultiHostGoesToTheWritableHost gives the commands a URL that lists a
// standby before its primary, without target_session_attrs, as a user who
// lists "every database host" would:
//
//   - `migrate apply` on the standby alone refuses at once, saying the
//     host is read-only, and writes nothing;
//   - `migrate apply` on the two-host URL applies on the primary;
//   - `wait-db` on it succeeds while the primary runs, and once the
//     primary is gone it keeps waiting and gives up, rather than taking
//     the standby (so `serve`, which waits the same way, does not start on
//     a database it cannot write to).
func TestMultiHostGoesToTheWritableHost(t *testing.T) {
	directOnly(t)
	t.Parallel()
	primary, standby := replicatedPair(t, false)
	standbyFirst := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d,127.0.0.1:%d/accounts?sslmode=disable", primary.Password(), standby.Port(), primary.Port())
	dir := migrationDirWith(t, deployFiles)
	env := func(url string) map[string]string {
		return map[string]string{"DATABASE_URL": url, "ACCOUNTS_MIGRATE_DIR": dir, "ACCOUNTS_DATABASE_WAIT_INTERVAL": "200ms"}
	}
	revisions := func(url string) int {
		t.Helper()
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM atlas_schema_revisions.atlas_schema_revisions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := revisions(primary.URL("accounts"))

	out, stderr, err := runCapture(env(standby.URL("accounts")), "migrate", "apply")
	if err == nil || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), "target_session_attrs=read-write") {
		t.Errorf("migrate apply on a standby: %v\n%s%s\nwant a refusal that says the host is read-only and how to reach the primary", err, out, stderr)
	}
	if strings.Contains(out, "Migrating from") {
		t.Errorf("migrate apply on a standby started migrating:\n%s", out)
	}
	t.Logf("migrate apply on the standby: %v", err)

	out, stderr, err = runCapture(env(standbyFirst), "migrate", "apply")
	if err != nil {
		t.Fatalf("migrate apply on %s: %v\n%s%s", standbyFirst, err, out, stderr)
	}
	if got := revisions(primary.URL("accounts")); got != before+len(deployFiles) {
		t.Errorf("the primary has %d revisions after migrate apply on the two-host URL, want %d", got, before+len(deployFiles))
	}

	if _, stderr, err := runCapture(env(standbyFirst), "wait-db", "--wait-timeout", "10s"); err != nil {
		t.Fatalf("wait-db with the primary up: %v\n%s", err, stderr)
	}
	if err := primary.Crash(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runCapture(env(standbyFirst), "wait-db", "--wait-timeout", "2s")
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("wait-db with only the standby up: %v, want it to give up waiting for a writable host\n%s", err, stderr)
	}
	t.Logf("wait-db with only the standby up: %v", err)
}
