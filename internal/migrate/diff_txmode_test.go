package migrate

import (
	"strings"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	appschema "accounts/ent/schema"
)

// An enum value added and made the default in one change: PostgreSQL
// refuses to use a value added in the same transaction (55P04), so diff
// writes one file marked `-- atlas:txmode none` (as the Atlas CLI does with
// atlas.hcl's format), and it applies on a database holding rows.
func TestDiffEnumValueAddedAndUsedRunsOutsideATransaction(t *testing.T) {
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
	if names := fileNames(t, dir); len(names) != before+1 || names[before] != res.File {
		t.Fatalf("diff wrote %v, want one file", names[before:])
	}
	if !strings.HasPrefix(res.SQL, txModeNoneDirective) || !strings.Contains(res.SQL, `ADD VALUE 'GUEST'`) {
		t.Errorf("the file:\n%s", res.SQL)
	}
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatalf("the written file does not apply: %v", err)
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
	err = verifyPlan(ctx, dev, want, plan, false)
	if err == nil || !strings.Contains(err.Error(), "unsafe use of new value") {
		t.Fatalf("verifying a file that cannot apply in its transaction: %v", err)
	}
}
