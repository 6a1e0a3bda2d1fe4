package main

import (
	"io/fs"
	"os/exec"
	"strings"
	"testing"

	"accounts/migrations"
)

// apply --sql --from writes a script that psql runs on an empty database,
// and on one at a middle version; afterwards status says up to date, drift
// finds nothing and apply has nothing to do: the script wrote the revision
// rows apply writes.
func TestMigrateApplySQLPipesIntoPsql(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) < 3 {
		t.Fatalf("embedded migrations: %v %v", files, err)
	}
	middle := strings.SplitN(files[1], "_", 2)[0]
	for _, tc := range []struct{ name, from string }{{"empty database", "none"}, {"middle version", middle}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := emptyDatabase(t)
			env := map[string]string{"DATABASE_URL": url, "ACCOUNTS_LOG_LEVEL": "warn"}
			if tc.from != "none" {
				if out, _, err := runCapture(env, "migrate", "apply", "--to", tc.from); err != nil {
					t.Fatalf("apply --to %s: %v\n%s", tc.from, err, out)
				}
			}
			script, stderr, err := runCapture(env, "migrate", "apply", "--sql", "--from", tc.from)
			if err != nil {
				t.Fatalf("apply --sql: %v\n%s", err, stderr)
			}
			psql(t, url, script)
			if out, _, err := runCapture(env, "migrate", "status", "--check"); err != nil || !strings.Contains(out, "OK (up to date)") || !strings.Contains(out, "Drift:           none") {
				t.Errorf("status after the script: %v\n%s", err, out)
			}
			if out, _, err := runCapture(env, "migrate", "drift"); err != nil {
				t.Errorf("drift after the script: %v\n%s", err, out)
			}
			if out, _, err := runCapture(env, "migrate", "apply"); err != nil || !strings.Contains(out, "No pending migrations") {
				t.Errorf("apply after the script: %v\n%s", err, out)
			}
		})
	}
}

// psql runs script on the database at url, stopping at the first error.
func psql(t *testing.T, url, script string) {
	t.Helper()
	bin, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("this test pipes SQL into psql: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql: %v\n%s\nscript:\n%s", err, out, script)
	}
}
