package migrate

import (
	"database/sql"
	"strings"
	"testing"
)

func findingWith(fs []Finding, stmt int, parts ...string) bool {
	for _, f := range fs {
		if f.Stmt != stmt {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(f.Message, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// A foreign key or check dropped and added again with another definition
// (an edge's OnDelete changed) validates every row under lock like a new
// one; lint gives the NOT VALID + VALIDATE CONSTRAINT form for both.
func TestLintModifiedConstraints(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_check.sql", `ALTER TABLE "items" ADD CONSTRAINT "items_qty_check" CHECK (qty >= 0) NOT VALID;`+"\n")
	addFile(t, dir, "20000101000002_modify.sql", `ALTER TABLE "events" DROP CONSTRAINT "events_item_fk", ADD CONSTRAINT "events_item_fk" FOREIGN KEY ("item_id") REFERENCES "items" ("id") ON UPDATE NO ACTION ON DELETE CASCADE;
ALTER TABLE "items" DROP CONSTRAINT "items_qty_check", ADD CONSTRAINT "items_qty_check" CHECK (qty > 0);
`)
	rep, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !findingWith(rep.Findings, 1, "events_item_fk", "NOT VALID", "VALIDATE CONSTRAINT") {
		t.Errorf("no NOT VALID finding for the re-added foreign key: %v", rep.Findings)
	}
	if !findingWith(rep.Findings, 2, "items_qty_check", "NOT VALID", "VALIDATE CONSTRAINT") {
		t.Errorf("no NOT VALID finding for the re-added check: %v", rep.Findings)
	}
}

// Narrowing a type warns with the query that counts the values that will
// not fit, and that query counts them.
func TestLintNarrowingCountsValuesThatDoNotFit(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_narrow.sql", `ALTER TABLE "items" ALTER COLUMN "name" TYPE character varying(16);
ALTER TABLE "items" ALTER COLUMN "qty" TYPE integer;
`)
	rep, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := newDB(t)
	if _, err := Apply(ctx, db, dir, ApplyOptions{N: 1}); err != nil {
		t.Fatal(err)
	}
	execAll(t, db, `INSERT INTO items (id, name, qty) VALUES (1, 'short', 1), (2, 'a name of twenty chars', 1), (3, 'x', 3000000000)`)
	for stmt, want := range map[int]int64{1: 1, 2: 1} {
		var query string
		for _, f := range rep.Findings {
			if f.Stmt == stmt && f.Class == ClassDataDepend {
				if i := strings.Index(f.Message, "SELECT count(*)"); i >= 0 {
					query = strings.TrimRight(f.Message[i:], ".;) ")
					if j := strings.Index(query, "`"); j >= 0 {
						query = query[:j]
					}
				}
			}
		}
		if query == "" {
			t.Errorf("statement %d: no data_depend finding with a SELECT count(*): %v", stmt, rep.Findings)
			continue
		}
		var n sql.NullInt64
		if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil || n.Int64 != want {
			t.Errorf("statement %d: %s counts %v (%v), want %d", stmt, query, n, err, want)
		}
	}
}
