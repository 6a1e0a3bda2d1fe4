package migrate

import (
	"fmt"
	"strings"
	"testing"
)

// The "may rewrite the table" warning fires exactly for the type changes
// that make PostgreSQL rewrite the table: the test applies each change to
// a real table and compares its relfilenode before and after.
func TestLintTypeChangeWarnsOnlyOnRewrite(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	cases := []struct {
		from, to string
		rewrite  bool
	}{
		{"varchar(32)", "varchar(64)", false},
		{"varchar(32)", "varchar", false},
		{"varchar", "text", false},
		{"varchar(32)", "text", false},
		{"text", "varchar", false},
		{"varchar(64)", "varchar(16)", true},
		{"text", "varchar(16)", true},
		{"integer", "bigint", true},
	}
	var create, alter strings.Builder
	for i, c := range cases {
		fmt.Fprintf(&create, "CREATE TABLE t%d (id int PRIMARY KEY, c %s);\nINSERT INTO t%d VALUES (1, '7');\n", i, c.from, i)
		fmt.Fprintf(&alter, "ALTER TABLE t%d ALTER COLUMN c TYPE %s;\n", i, c.to)
	}
	dir := serviceDir(t)
	addFile(t, dir, "29990101000000_tables.sql", create.String())
	addFile(t, dir, "29990101000001_types.sql", alter.String())
	rep, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := newDB(t)
	if _, err := Apply(ctx, db, dir, ApplyOptions{To: "29990101000000"}); err != nil {
		t.Fatal(err)
	}
	filenodes := func() []int64 {
		var out []int64
		for i := range cases {
			var n int64
			if err := db.QueryRowContext(ctx, "SELECT relfilenode FROM pg_class WHERE oid = $1::regclass", fmt.Sprintf("t%d", i)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	before := filenodes()
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	after := filenodes()
	for i, c := range cases {
		rewrote := before[i] != after[i]
		warned := false
		for _, f := range rep.Findings {
			if f.Stmt == i+1 && strings.Contains(f.Message, "may rewrite the table") {
				warned = true
			}
		}
		if rewrote != c.rewrite {
			t.Errorf("%s -> %s: PostgreSQL rewrote the table: %v, the test expected %v", c.from, c.to, rewrote, c.rewrite)
		}
		if warned != c.rewrite {
			t.Errorf("%s -> %s: lint warned of a rewrite: %v, want %v", c.from, c.to, warned, c.rewrite)
		}
	}
}
