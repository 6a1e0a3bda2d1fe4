package migrate

import (
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// diff.tmpl is the library's DefaultFormatter plus the txmode rule: a file
// that can run in a transaction comes out byte for byte as the default
// formatter writes it (comments capitalized, directives first), and one
// that cannot gets `-- atlas:txmode none` before the rest.
func TestDiffTemplateIsTheDefaultFormatPlusTxMode(t *testing.T) {
	t.Parallel()
	plans := []struct {
		plan *atlasmigrate.Plan
		none bool
	}{
		{plan: &atlasmigrate.Plan{Changes: []*atlasmigrate.Change{
			{Cmd: `CREATE TABLE "t" ("id" bigint)`, Comment: `create "t" table`},
			{Cmd: `ALTER TYPE "e" ADD VALUE 'X'`, Comment: `add value to enum type: "e"`},
			{Cmd: `SELECT 1`},
		}}},
		{plan: &atlasmigrate.Plan{Directives: []string{"-- atlas:nolint destructive"}, Changes: []*atlasmigrate.Change{
			{Cmd: `DROP TABLE "t"`, Comment: `drop "t" table`},
		}}},
		{none: true, plan: &atlasmigrate.Plan{Changes: []*atlasmigrate.Change{
			{Cmd: `CREATE INDEX CONCURRENTLY "i" ON "t" ("id")`, Comment: `create index "i" to table: "t"`},
		}}},
		{none: true, plan: &atlasmigrate.Plan{Changes: []*atlasmigrate.Change{
			{Cmd: `ALTER TYPE "e" ADD VALUE 'X'`, Comment: `add value to enum type: "e"`},
			{Cmd: `ALTER TABLE "t" ALTER COLUMN "k" SET DEFAULT 'X'`, Comment: `modify "t" table`},
		}}},
	}
	for _, p := range plans {
		want, err := atlasmigrate.DefaultFormatter.FormatFile(p.plan)
		if err != nil {
			t.Fatal(err)
		}
		got, none, err := formatPlan(p.plan)
		if err != nil {
			t.Fatal(err)
		}
		w := string(want.Bytes())
		if p.none {
			w = txModeNoneDirective + w
		}
		if string(got.Bytes()) != w || none != p.none || got.Name() != want.Name() {
			t.Errorf("diff.tmpl wrote %s:\n%s\nwant %s (txmode none %v):\n%s", got.Name(), got.Bytes(), want.Name(), p.none, w)
		}
	}
}
