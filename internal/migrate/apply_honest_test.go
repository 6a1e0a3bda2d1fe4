package migrate

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// apply's header gives each file's real transaction mode: a file with
// `-- atlas:txmode none` does not run in a transaction whatever --tx-mode
// says.
func TestApplyHeaderShowsTxModePerFile(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_c.sql", "-- atlas:txmode none\n\n"+`CREATE INDEX CONCURRENTLY "ix_items_c" ON "items" ("qty");`+"\n")
	var out bytes.Buffer
	if _, err := Apply(ctx, db, dir, ApplyOptions{Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "20000101000001_c.sql (txmode none)") || strings.Contains(out.String(), "2 file(s), tx-mode file)") {
		t.Errorf("apply output:\n%s", out.String())
	}
}

// A dry run that reaches a file apply would refuse stops there: it does
// not count that file or later ones as statements that would be applied.
func TestApplyDryRunStopsAtARefusal(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, `INSERT INTO items (id, name, kind) VALUES (1, 'b', 'B')`)
	addFile(t, dir, "20000101000001_drop_b.sql", `ALTER TYPE "kind" RENAME TO "kind_old";
CREATE TYPE "kind" AS ENUM ('A');
ALTER TABLE "items" ALTER COLUMN "kind" DROP DEFAULT;
ALTER TABLE "items" ALTER COLUMN "kind" TYPE "kind" USING "kind"::text::"kind";
ALTER TABLE "items" ALTER COLUMN "kind" SET DEFAULT 'A';
DROP TYPE "kind_old";
`)
	addFile(t, dir, "20000101000002_later.sql", "CREATE TABLE t3 (id int);\n")
	var out bytes.Buffer
	rep, err := Apply(ctx, db, dir, ApplyOptions{DryRun: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if rep.Statements() != 0 || strings.Contains(s, "7 statement(s) would be applied") || !strings.Contains(s, "would refuse 20000101000001_drop_b.sql") {
		t.Errorf("dry run counts %d statement(s):\n%s", rep.Statements(), s)
	}
}

// A unique index that cannot be built says which key is duplicated.
func TestApplyUniqueFailureNamesTheKey(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, `INSERT INTO items (id, name) VALUES (1, 'twin'), (2, 'twin')`)
	addFile(t, dir, "20000101000001_unique.sql", `CREATE UNIQUE INDEX "ux_items_name" ON "items" ("name");`+"\n")
	var out bytes.Buffer
	_, err := Apply(ctx, db, dir, ApplyOptions{Out: &out})
	if err == nil || !strings.Contains(err.Error(), "Key (name)=(twin) is duplicated") || !strings.Contains(out.String(), "Key (name)=(twin) is duplicated") {
		t.Errorf("apply of a unique index over duplicates: %v\n%s", err, out.String())
	}
}

// apply --dry-run --from VERSION prints the later files' SQL with no
// database at all.
func TestApplyDryRunFromNeedsNoDatabase(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_k2.sql", `CREATE INDEX "ix_items_k2" ON "items" ("name");`+"\n")
	var out bytes.Buffer
	rep, err := Apply(context.Background(), nil, dir, ApplyOptions{DryRun: true, From: "20000101000000", Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if len(rep.Files) != 1 || !strings.Contains(s, `CREATE INDEX "ix_items_k2"`) || strings.Contains(s, "CREATE TABLE") {
		t.Errorf("offline dry run from the base:\n%s", s)
	}
	out.Reset()
	if rep, err = Apply(context.Background(), nil, dir, ApplyOptions{DryRun: true, From: FromNone, Out: &out}); err != nil || len(rep.Files) != 2 {
		t.Errorf("offline dry run from none: %v\n%s", err, out.String())
	}
	if _, err := Apply(context.Background(), nil, dir, ApplyOptions{From: FromNone}); err == nil {
		t.Error("--from without --dry-run was accepted")
	}
}
