package main

import (
	"io/fs"
	"strings"
	"testing"

	"accounts/migrations"
)

// `migrate down -1` (Alembic's spelling) and `migrate down 2` revert that
// many files.
func TestMigrateDownCount(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) < 4 {
		t.Fatalf("embedded migrations: %v %v", files, err)
	}
	version := func(i int) string { return strings.SplitN(files[i], "_", 2)[0] }
	url := emptyDatabase(t)
	env := map[string]string{"DATABASE_URL": url, "ACCOUNTS_LOG_LEVEL": "warn"}
	if out, _, err := runCapture(env, "migrate", "apply"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	n := len(files)
	for _, c := range []struct {
		args []string
		want string // the version the database is at afterwards
	}{
		{[]string{"migrate", "down", "-1"}, version(n - 2)},
		{[]string{"migrate", "down", "2"}, version(n - 4)},
	} {
		if out, _, err := runCapture(env, c.args...); err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, out)
		}
		out, _, err := runCapture(env, "migrate", "status", "--no-drift")
		if err != nil || !strings.Contains(out, "Current version: "+c.want) {
			t.Fatalf("after %v, want version %s: %v\n%s", c.args, c.want, err, out)
		}
	}
}
