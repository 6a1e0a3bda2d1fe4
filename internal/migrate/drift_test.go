package migrate

import (
	"slices"
	"strings"
	"testing"
)

// Drift lists what the live database has beyond the applied files (extra),
// lacks (missing) and has in another form (changed); none on a database
// the files made.
func TestDriftListsExtraMissingChanged(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_k2.sql", `CREATE INDEX "ix_items_k2" ON "items" ("name");`+"\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	addFile(t, dir, "20000101000002_pending.sql", "CREATE TABLE later (id int);\n")
	rep, err := Drift(ctx, db, dir, DriftOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects() != 0 || rep.Version != "20000101000001" {
		t.Fatalf("drift of a database the files made: %+v", rep)
	}
	execAll(t, db,
		"CREATE INDEX ix_manual_dba ON events (action)",
		"CREATE TABLE ops_scratch (id int)",
		"DROP INDEX ix_items_k2",
		"ALTER TABLE items ALTER COLUMN qty SET DEFAULT 7")
	rep, err = Drift(ctx, db, dir, DriftOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	has := func(list []string, part string) bool {
		return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, part) })
	}
	if !has(rep.Extra, "table ops_scratch") || !has(rep.Extra, "index ix_manual_dba") ||
		!has(rep.Missing, "index ix_items_k2") || !has(rep.Changed, "column qty") || rep.Objects() != 4 {
		t.Errorf("drift: extra %q, missing %q, changed %q", rep.Extra, rep.Missing, rep.Changed)
	}
}
