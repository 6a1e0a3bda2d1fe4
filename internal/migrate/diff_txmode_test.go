package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	appschema "accounts/ent/schema"
)

// An enum value added and made the default in one change: PostgreSQL
// refuses to use a value added in the same transaction (55P04), so diff
// writes the ADD VALUE in a file of its own before the file that uses it,
// and both apply on a database holding rows.
func TestDiffSplitsEnumValueAddedAndUsed(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	tables := entTables()
	for _, c := range tableByName(t, tables, "users").Columns {
		if c.Name == "role" {
			c.Enums = append(c.Enums, "GUEST")
			c.Default = "GUEST"
		}
	}
	desired := DesiredState{Tables: tables, ExpressionIndexes: appschema.ExpressionIndexes}
	before := len(fileNames(t, dir))
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, `INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'someone', '\x00')`)
	res, err := Diff(ctx, dir, DiffOptions{Name: "guest", Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	names := fileNames(t, dir)
	if len(names) != before+2 {
		t.Fatalf("diff wrote %d file(s), want 2 (ADD VALUE, then its use): %v", len(names)-before, names[before:])
	}
	first, err := os.ReadFile(filepath.Join(dir.Path(), names[before]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), `ADD VALUE 'GUEST'`) || strings.Contains(string(first), "SET DEFAULT") {
		t.Errorf("first file:\n%s", first)
	}
	if len(res.Files) != 2 {
		t.Errorf("result lists %d file(s)", len(res.Files))
	}
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatalf("the written files do not apply: %v", err)
	}
	again, err := Check(ctx, dir, DiffOptions{Desired: &desired, Dev: devServer(t)})
	if err != nil || !again.NoChanges() {
		t.Fatalf("check after diff: %v\n%v", err, again)
	}
}

// The verification runs a planned file as apply will, in its transaction:
// an ADD VALUE and a use of the value in one transactional file fail there.
func TestVerifyRunsThePlannedFileInItsTransaction(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dev, err := openDev(ctx, devServer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dev.close(); err != nil {
			t.Error(err)
		}
	}()
	want, err := replay(ctx, dev, serviceDir(t), "")
	if err != nil {
		t.Fatal(err)
	}
	plan := &atlasmigrate.Plan{Changes: []*atlasmigrate.Change{
		{Cmd: `ALTER TYPE "userrole" ADD VALUE 'GUEST'`},
		{Cmd: `ALTER TABLE "users" ALTER COLUMN "role" SET DEFAULT 'GUEST'`},
	}}
	err = verifyPlan(ctx, dev, want, plan)
	if err == nil || !strings.Contains(err.Error(), "unsafe use of new value") {
		t.Fatalf("verifying a file that cannot apply in its transaction: %v", err)
	}
}
