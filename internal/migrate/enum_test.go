package migrate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	appschema "accounts/ent/schema"
)

// roleState is the Ent schema with users.role listing values instead of
// USER, ADMIN, SUPER_ADMIN.
func roleState(t testing.TB, values ...string) *DesiredState {
	t.Helper()
	tables := entTables()
	users := tableByName(t, tables, "users")
	found := false
	for _, c := range users.Columns {
		if c.Name == "role" {
			c.Enums, found = slices.Clone(values), true
		}
	}
	if !found {
		t.Fatal("users has no role column")
	}
	return &DesiredState{Tables: tables, ExpressionIndexes: appschema.ExpressionIndexes}
}

// dirSnapshot is every file of a migration directory, name to bytes.
func dirSnapshot(t testing.TB, dir *atlasmigrate.LocalDir) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir.Path())
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir.Path(), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// mustDiff runs Diff and returns the written file's content.
func mustDiff(ctx context.Context, t *testing.T, dir *atlasmigrate.LocalDir, name string, desired *DesiredState, renames ...EnumRename) *DiffResult {
	t.Helper()
	res, err := Diff(ctx, dir, DiffOptions{Name: name, Desired: desired, Dev: devServer(t), EnumRenames: renames})
	if err != nil {
		t.Fatalf("diff %s: %v", name, err)
	}
	if res.NoChanges() || res.File == "" {
		t.Fatalf("diff %s wrote nothing: %+v", name, res)
	}
	written, err := os.ReadFile(filepath.Join(dir.Path(), res.File))
	if err != nil || string(written) != res.SQL {
		t.Fatalf("diff %s: the written file differs from the result (%v)", name, err)
	}
	if err := Validate(dir); err != nil {
		t.Fatalf("diff %s: atlas.sum: %v", name, err)
	}
	return res
}

// assertDrift checks that Check sees a difference (want true) or none.
func assertDrift(ctx context.Context, t *testing.T, dir atlasmigrate.Dir, desired *DesiredState, want bool) *DiffResult {
	t.Helper()
	res, err := Check(ctx, dir, DiffOptions{Desired: desired, Dev: devServer(t)})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if got := !res.NoChanges(); got != want {
		t.Errorf("check sees drift = %v, want %v; SQL:\n%s", got, want, res.SQL)
	}
	return res
}

// The report: add AUDITOR, diff, remove it, diff. The second diff
// must write the type's recreation (never an empty file), check must see
// the drift before it and none after, and the file must apply.
func TestDiffRemovesEnumValue(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := repoDir(t)
	withAuditor := roleState(t, "USER", "ADMIN", "SUPER_ADMIN", "AUDITOR")
	added := mustDiff(ctx, t, dir, "add_auditor", withAuditor)
	if !strings.Contains(added.SQL, `ALTER TYPE "userrole" ADD VALUE 'AUDITOR'`) {
		t.Fatalf("adding a value:\n%s", added.SQL)
	}
	original := roleState(t, "USER", "ADMIN", "SUPER_ADMIN")
	assertDrift(ctx, t, dir, original, true)
	before := dirSnapshot(t, dir)
	res, err := Diff(ctx, dir, DiffOptions{Name: "drop_auditor", Desired: original, Dev: devServer(t)})
	if err != nil {
		t.Fatalf("diff drop_auditor: %v", err)
	}
	after := dirSnapshot(t, dir)
	for name, content := range after {
		if strings.HasSuffix(name, ".sql") && strings.TrimSpace(content) == "" {
			t.Errorf("diff wrote an empty file %s (result: no changes = %v); atlas.sum went from\n%s\nto\n%s",
				name, res.NoChanges(), before["atlas.sum"], after["atlas.sum"])
		}
	}
	if res.NoChanges() {
		t.Fatalf("diff after removing AUDITOR reports no changes; the type keeps AUDITOR")
	}
	for _, want := range []string{
		`ALTER TYPE "userrole" RENAME TO "userrole_old"`,
		`CREATE TYPE "userrole" AS ENUM ('USER', 'ADMIN', 'SUPER_ADMIN')`,
		`ALTER TABLE "users" ALTER COLUMN "role" DROP DEFAULT`,
		`ALTER TABLE "users" ALTER COLUMN "role" TYPE "userrole" USING "role"::text::"userrole"`,
		`ALTER TABLE "users" ALTER COLUMN "role" SET DEFAULT 'USER'`,
		`DROP TYPE "userrole_old"`,
	} {
		if !strings.Contains(res.SQL, want) {
			t.Errorf("diff lacks %q:\n%s", want, res.SQL)
		}
	}
	assertDrift(ctx, t, dir, original, false)

	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if got := enumValues(t, inspect(t, db), "userrole"); !slices.Equal(got, []string{"USER", "ADMIN", "SUPER_ADMIN"}) {
		t.Errorf("userrole after apply: %q", got)
	}
}
