package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"accounts/internal/testdb"
)

// Advice that migrate commands print (not only their errors) names the
// binary as it was invoked.
func TestMigrateAdviceNamesTheBinaryAsInvoked(t *testing.T) {
	t.Parallel()
	schemaSQL, err := os.ReadFile(filepath.Join("..", "..", "ent", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	tree := sourceTree(t, schemaSQL)
	dir := filepath.Join(tree, "migrations")
	file := `CREATE INDEX CONCURRENTLY "ix_users_role" ON "users" ("role");` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "29990101000000_role.sql"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": testdb.ServerURL(t), "ACCOUNTS_LOG_LEVEL": "warn"}
	if _, _, err := runCapture(env, "migrate", "hash", "--dir", dir); err != nil {
		t.Fatal(err)
	}
	const argv0 = "/opt/tools/accounts-1.2"
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{argv0, "migrate", "lint", "--latest", "1", "--dir", dir},
		func(k string) string { return env[k] }, time.Now, &out, &errOut)
	if err == nil || !strings.Contains(out.String(), "AC201") {
		t.Fatalf("lint of a CONCURRENTLY file without txmode none: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "`accounts ") || !strings.Contains(out.String(), "`"+argv0+" migrate hash`") {
		t.Errorf("the advice does not name %s:\n%s", argv0, out.String())
	}
}
