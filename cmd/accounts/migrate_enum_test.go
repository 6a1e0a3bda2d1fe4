package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"accounts/internal/testdb"
)

// TestMigrateDiffRenameEnumValueFlag runs check and diff as a user would,
// on a copy of migrations/ whose last file renamed ADMIN to MODERATOR,
// which the Ent schema does not have: check fails, diff without the flag
// plans remove + add and says the flag exists, diff with the flag writes
// RENAME VALUE, and check passes afterwards.
func TestMigrateDiffRenameEnumValueFlag(t *testing.T) {
	t.Parallel()
	dir := copyMigrations(t, filepath.Join("..", "..", "migrations"), "")
	if err := os.WriteFile(filepath.Join(dir, "29990101000000_moderator.sql"), []byte("ALTER TYPE userrole RENAME VALUE 'ADMIN' TO 'MODERATOR';\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": testdb.ServerURL(t), "ACCOUNTS_LOG_LEVEL": "warn"}
	if _, _, err := runCapture(env, "migrate", "hash", "--dir", dir); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCapture(env, "migrate", "check", "--dir", dir)
	if err == nil || !strings.Contains(out, `CREATE TYPE "userrole" AS ENUM ('USER', 'ADMIN', 'SUPER_ADMIN')`) ||
		!strings.Contains(out, "--rename-enum-value userrole.MODERATOR=ADMIN") {
		t.Fatalf("check before the diff: %v\n%s", err, out)
	}
	if _, _, err := runCapture(env, "migrate", "diff", "x", "--dir", dir, "--rename-enum-value", "userrole-ADMIN"); err == nil || !strings.Contains(err.Error(), "TYPE.OLD=NEW") {
		t.Errorf("a malformed flag: %v", err)
	}
	out, _, err = runCapture(env, "migrate", "check", "--dir", dir)
	if err == nil {
		t.Fatalf("check after a refused diff passes:\n%s", out)
	}
	out, _, err = runCapture(env, "migrate", "diff", "admin_back", "--dir", dir, "--rename-enum-value", "userrole.MODERATOR=ADMIN")
	if err != nil || !strings.Contains(out, `ALTER TYPE "userrole" RENAME VALUE 'MODERATOR' TO 'ADMIN'`) || strings.Contains(out, "CREATE TYPE") {
		t.Fatalf("diff with the flag: %v\n%s", err, out)
	}
	if out, _, err := runCapture(env, "migrate", "check", "--dir", dir); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("check after the diff: %v\n%s", err, out)
	}

	// The same drift without the flag: remove + add, and a note.
	other := copyMigrations(t, dir, "admin_back")
	if _, _, err := runCapture(env, "migrate", "hash", "--dir", other); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCapture(env, "migrate", "diff", "replace", "--dir", other)
	if err != nil || !strings.Contains(out, `CREATE TYPE "userrole" AS ENUM ('USER', 'ADMIN', 'SUPER_ADMIN')`) ||
		!strings.Contains(out, "--rename-enum-value userrole.MODERATOR=ADMIN") {
		t.Fatalf("diff without the flag: %v\n%s", err, out)
	}
}

// copyMigrations copies the migration files and atlas.sum of src into a
// new temporary directory, leaving out files whose name contains skip.
func copyMigrations(t *testing.T, src, skip string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if (!strings.HasSuffix(e.Name(), ".sql") && e.Name() != "atlas.sum") || (skip != "" && strings.Contains(e.Name(), skip)) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
