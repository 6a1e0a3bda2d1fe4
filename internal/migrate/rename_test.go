package migrate

import (
	"strings"
	"testing"

	appschema "accounts/ent/schema"
)

func renamedColumnState(t *testing.T) DesiredState {
	tables := entTables()
	for _, c := range tableByName(t, tables, "audit_events").Columns {
		if c.Name == "actor_name" {
			c.Name = "actor_label"
		}
	}
	return DesiredState{Tables: tables, ExpressionIndexes: appschema.ExpressionIndexes}
}

// A renamed column (--rename-column) keeps its data through diff, apply and
// down; without the flag, diff names the flag.
func TestDiffRenameColumnKeepsData(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	desired := renamedColumnState(t)
	dir := serviceDir(t)
	res, err := Check(ctx, dir, DiffOptions{Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "--rename-column audit_events.actor_name=actor_label") {
		t.Errorf("diff without the flag: notes %q\n%s", res.Notes, res.SQL)
	}
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, `INSERT INTO audit_events (id, action, actor_name, target_name) VALUES (gen_random_uuid(), 'x', 'kept', 't')`)
	renames := []ColumnRename{{Table: "audit_events", From: "actor_name", To: "actor_label"}}
	res, err = Diff(ctx, dir, DiffOptions{Name: "rename", Desired: &desired, Dev: devServer(t), ColumnRenames: renames})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.SQL, `RENAME COLUMN "actor_name" TO "actor_label"`) || strings.Contains(res.SQL, "DROP COLUMN") {
		t.Fatalf("diff with --rename-column:\n%s", res.SQL)
	}
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRowContext(ctx, "SELECT actor_label FROM audit_events").Scan(&v); err != nil || v != "kept" {
		t.Fatalf("after apply: %q %v", v, err)
	}
	rep, err := Down(ctx, db, dir, DownOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT actor_name FROM audit_events").Scan(&v); err != nil || v != "kept" {
		t.Fatalf("after down (%q): %q %v", rep.SQL, v, err)
	}
}

// A renamed table (--rename-table) keeps its rows; its Ent-named indexes
// are renamed, not rebuilt.
func TestDiffRenameTableKeepsRows(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	tables := entTables()
	tableByName(t, tables, "throttle_counters").Name = "rate_counters"
	desired := DesiredState{Tables: tables, ExpressionIndexes: appschema.ExpressionIndexes}
	dir := serviceDir(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, `INSERT INTO throttle_counters (id, window_start, hits) VALUES ('k', now(), 3)`)
	res, err := Diff(ctx, dir, DiffOptions{Name: "rename_table", Desired: &desired, Dev: devServer(t),
		TableRenames: []TableRename{{From: "throttle_counters", To: "rate_counters"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.SQL, `ALTER TABLE "throttle_counters" RENAME TO "rate_counters"`) || strings.Contains(res.SQL, "DROP TABLE") {
		t.Fatalf("diff with --rename-table:\n%s", res.SQL)
	}
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var hits int
	if err := db.QueryRowContext(ctx, "SELECT hits FROM rate_counters").Scan(&hits); err != nil || hits != 3 {
		t.Fatalf("after apply: %d %v", hits, err)
	}
	if _, err := Down(ctx, db, dir, DownOptions{Dev: devServer(t)}); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT hits FROM throttle_counters").Scan(&hits); err != nil || hits != 3 {
		t.Fatalf("after down: %d %v", hits, err)
	}
}

// An index whose name changed (StorageKey) and whose definition did not is
// dropped and built again, CONCURRENTLY, as the Atlas CLI writes it (see
// TestAtlasCLIDiffMatchesEngine); it is renamed only with a table or column
// rename flag (TestDiffRenameTableKeepsRows).
func TestDiffRebuildsRenamedIndex(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	tables := entTables()
	for _, ix := range tableByName(t, tables, "audit_events").Indexes {
		if ix.Name == "ix_audit_events_actor_id" {
			ix.Name = "ix_audit_actor"
		}
	}
	desired := DesiredState{Tables: tables, ExpressionIndexes: appschema.ExpressionIndexes}
	res, err := Check(ctx, serviceDir(t), DiffOptions{Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.SQL, `DROP INDEX CONCURRENTLY "ix_audit_events_actor_id"`) || !strings.Contains(res.SQL, `CREATE INDEX CONCURRENTLY "ix_audit_actor"`) {
		t.Errorf("diff of a renamed index:\n%s", res.SQL)
	}
}

// lint names --rename-column for a file that drops a column and adds one of
// the same type to the same table.
func TestLintSuggestsRenameColumn(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_title.sql", `ALTER TABLE "items" DROP COLUMN "name";
ALTER TABLE "items" ADD COLUMN "title" character varying(32) NOT NULL DEFAULT '';
`)
	rep, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		if strings.Contains(f.Message, "--rename-column items.name=title") {
			found = true
		}
	}
	if !found {
		t.Errorf("lint findings %v", rep.Findings)
	}
}

// A file that renames a column with RENAME COLUMN keeps the data: lint does
// not suggest --rename-column for it (AC303 is for a drop and an add).
func TestLintAcceptsExplicitRenameColumn(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_title.sql", `ALTER TABLE "items" RENAME COLUMN "name" TO "title";`+"\n")
	rep, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Code == "AC303" {
			t.Errorf("lint of an explicit rename: %v", f)
		}
	}
}

// A renamed table's foreign key, renamed with it (Ent names it after the
// table), follows by RENAME CONSTRAINT: no drop and re-add (a validation
// scan under lock). The engine's own lint accepts the file, it applies,
// and down renames everything back.
func TestDiffRenameTableRenamesItsForeignKey(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	tables := entTables()
	sessions := tableByName(t, tables, "auth_sessions")
	sessions.Name = "login_sessions"
	for _, fk := range sessions.ForeignKeys {
		fk.Symbol = strings.Replace(fk.Symbol, "auth_sessions", "login_sessions", 1)
	}
	desired := DesiredState{Tables: tables, ExpressionIndexes: svcExpressionIndexes}
	dir := serviceDir(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	res, err := Diff(ctx, dir, DiffOptions{Name: "rename_sessions", Desired: &desired, Dev: devServer(t),
		TableRenames: []TableRename{{From: "auth_sessions", To: "login_sessions"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.SQL, `RENAME CONSTRAINT "auth_sessions_users_sessions" TO "login_sessions_users_sessions"`) ||
		strings.Contains(res.SQL, "DROP CONSTRAINT") || strings.Contains(res.SQL, "ADD CONSTRAINT") {
		t.Fatalf("diff with --rename-table:\n%s", res.SQL)
	}
	rep, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors() > 0 {
		t.Fatalf("the engine's lint refuses its own file: %v\n%s", rep.Findings, res.SQL)
	}
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	down, err := Down(ctx, db, dir, DownOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	downSQL := strings.Join(down.SQL, "\n")
	if !strings.Contains(downSQL, `RENAME CONSTRAINT "login_sessions_users_sessions" TO "auth_sessions_users_sessions"`) || strings.Contains(downSQL, "DROP CONSTRAINT") {
		t.Errorf("down:\n%s", downSQL)
	}
}

// Down of a file that renames a table and one of its columns renames both
// back, keeping the rows.
func TestDownRenamedTableAndColumn(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	tables := entTables()
	counters := tableByName(t, tables, "throttle_counters")
	counters.Name = "rate_counters"
	for _, c := range counters.Columns {
		if c.Name == "hits" {
			c.Name = "attempts"
		}
	}
	desired := DesiredState{Tables: tables, ExpressionIndexes: svcExpressionIndexes}
	dir := serviceDir(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, `INSERT INTO throttle_counters (id, window_start, hits) VALUES ('k', now(), 3)`)
	res, err := Diff(ctx, dir, DiffOptions{Name: "rename_both", Desired: &desired, Dev: devServer(t),
		TableRenames:  []TableRename{{From: "throttle_counters", To: "rate_counters"}},
		ColumnRenames: []ColumnRename{{Table: "rate_counters", From: "hits", To: "attempts"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatalf("%v\n%s", err, res.SQL)
	}
	if _, err := Down(ctx, db, dir, DownOptions{Dev: devServer(t)}); err != nil {
		t.Fatalf("down of\n%s: %v", res.SQL, err)
	}
	var hits int
	if err := db.QueryRowContext(ctx, "SELECT hits FROM throttle_counters").Scan(&hits); err != nil || hits != 3 {
		t.Fatalf("after down: %d %v", hits, err)
	}
}
