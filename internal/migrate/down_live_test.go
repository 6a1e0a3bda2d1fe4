package migrate

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Down reverts only what the reverted file did: an index, a table and a
// comment a DBA made outside migrations/ stay as they are.
func TestDownLeavesObjectsOutsideTheFilesAlone(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_k2.sql", `CREATE INDEX "ix_items_k2" ON "items" ("name");`+"\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db,
		"CREATE INDEX ix_manual_dba ON events (action)",
		"CREATE TABLE ops_scratch (id int)",
		"COMMENT ON TABLE items IS 'dba note'")
	var out bytes.Buffer
	rep, err := Down(ctx, db, dir, DownOptions{DryRun: true, Dev: devServer(t), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`DROP INDEX "ix_items_k2"`}; !reflect.DeepEqual(rep.SQL, want) {
		t.Fatalf("down --dry-run plans %q, want %q", rep.SQL, want)
	}
	if _, err := Down(ctx, db, dir, DownOptions{Dev: devServer(t)}); err != nil {
		t.Fatal(err)
	}
	var k2, dba, scratch bool
	var comment string
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('ix_items_k2') IS NOT NULL, to_regclass('ix_manual_dba') IS NOT NULL,
		to_regclass('ops_scratch') IS NOT NULL, coalesce(obj_description('items'::regclass, 'pg_class'), '')`).Scan(&k2, &dba, &scratch, &comment); err != nil {
		t.Fatal(err)
	}
	if k2 || !dba || !scratch || comment != "dba note" {
		t.Errorf("after down: ix_items_k2 %v (want gone), ix_manual_dba %v, ops_scratch %v, comment %q (want kept)", k2, dba, scratch, comment)
	}
}

// A live object that the revert would change, and that differs from what
// the files made, is a refusal naming it; nothing changes.
func TestDownRefusesWhenTouchedObjectDiffers(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_k2.sql", `CREATE INDEX "ix_items_k2" ON "items" ("name");`+"\n")
	addFile(t, dir, "20000101000002_note.sql", `ALTER TABLE "items" ADD COLUMN "note" text NULL;`+"\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	// A DBA's index on the column the revert drops would go with it.
	execAll(t, db, "CREATE INDEX ix_dba_note ON items (note)")
	_, err := Down(ctx, db, dir, DownOptions{Dev: devServer(t)})
	var de *DriftError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "ix_dba_note") {
		t.Fatalf("down dropping a column a DBA indexed: %v", err)
	}
	execAll(t, db, "DROP INDEX ix_dba_note")
	if _, err := Down(ctx, db, dir, DownOptions{Dev: devServer(t)}); err != nil {
		t.Fatal(err)
	}
	// The index the file made was rebuilt with another definition.
	execAll(t, db, "DROP INDEX ix_items_k2", "CREATE INDEX ix_items_k2 ON items (name, id)")
	_, err = Down(ctx, db, dir, DownOptions{Dev: devServer(t)})
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "ix_items_k2") {
		t.Fatalf("down of an index a DBA redefined: %v", err)
	}
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass('ix_items_k2') IS NOT NULL").Scan(&exists); err != nil || !exists {
		t.Errorf("a refused down dropped the index (%v)", err)
	}
}

// A file that built or dropped an index CONCURRENTLY is reverted the same
// way, outside a transaction.
func TestDownMirrorsConcurrentIndexes(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_k2.sql", `CREATE INDEX "ix_items_k2" ON "items" ("name");`+"\n")
	addFile(t, dir, "20000101000002_c.sql", "-- atlas:txmode none\n\n"+`CREATE INDEX CONCURRENTLY "ix_items_c" ON "items" ("qty");`+"\n")
	addFile(t, dir, "20000101000003_d.sql", "-- atlas:txmode none\n\n"+`DROP INDEX CONCURRENTLY "ix_items_k2";`+"\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	rep, err := Down(ctx, db, dir, DownOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`CREATE INDEX CONCURRENTLY "ix_items_k2" ON "items" ("name")`}; !reflect.DeepEqual(rep.SQL, want) {
		t.Errorf("down of a DROP INDEX CONCURRENTLY ran %q, want %q", rep.SQL, want)
	}
	rep, err = Down(ctx, db, dir, DownOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`DROP INDEX CONCURRENTLY "ix_items_c"`}; !reflect.DeepEqual(rep.SQL, want) {
		t.Errorf("down of a CREATE INDEX CONCURRENTLY ran %q, want %q", rep.SQL, want)
	}
}

// down --dry-run that would refuse for data loss says so and prints the
// SQL it would run with --force.
func TestDownDryRunPrintsSQLOfARefusal(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_notes.sql", `CREATE TABLE "notes" ("id" bigint NOT NULL, PRIMARY KEY ("id"));`+"\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, "INSERT INTO notes VALUES (1)")
	var out bytes.Buffer
	_, err := Down(ctx, db, dir, DownOptions{DryRun: true, Dev: devServer(t), Out: &out})
	var dl *DataLossError
	if !errors.As(err, &dl) {
		t.Fatalf("down --dry-run over a table with rows: %v", err)
	}
	for _, want := range []string{"would refuse", "table notes with 1 row(s)", `DROP TABLE "notes";`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
}
