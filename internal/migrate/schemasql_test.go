package migrate

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ariga.io/atlas/schemahcl"
	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	entschema "entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"
)

// SchemaSQL writes the snapshot's desired state as testdata/
// service_schema.sql holds it (what `go generate ./ent` wrote for
// ent/schema.sql at that point; CI's regeneration keeps the service's own
// file fresh).
func TestSchemaFileUpToDate(t *testing.T) {
	want, err := serviceState().SchemaSQL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/service_schema.sql"
	got, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("SchemaSQL of the snapshot differs from %s; it wrote:\n%s", golden, want)
	}
	for _, stmt := range []string{
		`CREATE TYPE "userrole" AS ENUM`,
		`CREATE TABLE "users"`,
		`CREATE UNIQUE INDEX "ux_users_username_lower" ON "users" ((lower((username)::text)))`,
		`CREATE TABLE "auth_sessions"`,
	} {
		if !strings.Contains(string(got), stmt) {
			t.Errorf("%s lacks %q", golden, stmt)
		}
	}
	if i, j := strings.Index(string(got), `CREATE TABLE "users"`), strings.Index(string(got), `CREATE TABLE "auth_sessions"`); i > j {
		t.Errorf("auth_sessions (which references users) is created first")
	}
}

// `atlas migrate diff --env local` and `accounts migrate diff` write the same
// statements. The CLI's side is done here as the CLI does it with a SQL
// desired state (see atlas-compat.md): run the schema file on a clean dev
// schema as a one-file directory, inspect it, empty the schema, replay
// migrations/, inspect, diff with atlas.hcl's diff policy, plan unqualified,
// format with the default formatter. The engine's file may add only the
// `-- atlas:txmode none` directive.
func TestAtlasCLIDiffMatchesEngine(t *testing.T) {
	t.Parallel()
	policy := atlasHCLDiffPolicy(t)
	for _, tc := range cliDiffCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkCLIDiffMatchesEngine(t, tc, policy)
		})
	}
}

// cliDiffCase is one schema change TestAtlasCLIDiffMatchesEngine diffs both
// ways: change edits the service's desired state, and concurrent says
// whether the engine must plan it CONCURRENTLY under the txmode directive.
type cliDiffCase struct {
	name       string
	change     func(t *testing.T, d *DesiredState)
	concurrent bool
}

// cliDiffCases lists the schema changes TestAtlasCLIDiffMatchesEngine
// covers: a column, an enum value, a table with a new enum type, and an
// index added and dropped.
func cliDiffCases() []cliDiffCase {
	return []cliDiffCase{
		{name: "add column", change: func(t *testing.T, d *DesiredState) {
			users := tableByName(t, d.Tables, "users")
			users.Columns = append(users.Columns, &entschema.Column{Name: "nickname", Type: field.TypeString, Nullable: true})
		}},
		{name: "enum value", change: func(t *testing.T, d *DesiredState) {
			for _, c := range tableByName(t, d.Tables, "users").Columns {
				if c.Name == "role" {
					c.Enums = append(c.Enums, "AUDITOR")
				}
			}
		}},
		{name: "new table with enum", change: func(t *testing.T, d *DesiredState) {
			*d = changedState()
		}},
		{name: "new index", concurrent: true, change: func(t *testing.T, d *DesiredState) {
			users := tableByName(t, d.Tables, "users")
			var active *entschema.Column
			for _, c := range users.Columns {
				if c.Name == "is_active" {
					active = c
				}
			}
			users.Indexes = append(users.Indexes, &entschema.Index{Name: "ix_users_is_active", Columns: []*entschema.Column{active}})
		}},
		{name: "drop index", concurrent: true, change: func(t *testing.T, d *DesiredState) {
			users := tableByName(t, d.Tables, "users")
			kept := users.Indexes[:0]
			for _, idx := range users.Indexes {
				if idx.Name != "ix_users_created_at_id" {
					kept = append(kept, idx)
				}
			}
			if len(kept) == len(users.Indexes) {
				t.Fatal("users has no index ix_users_created_at_id to drop")
			}
			users.Indexes = kept
		}},
	}
}

// checkCLIDiffMatchesEngine applies tc's change to the service's desired
// state, diffs it against the snapshot's migrations with the engine and as
// the Atlas CLI does, and checks that both write the same statements, the
// engine adding the txmode directive exactly when the change is concurrent.
func checkCLIDiffMatchesEngine(t *testing.T, tc cliDiffCase, policy schema.DiffOption) {
	t.Helper()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	desired := serviceState()
	desired.Tables = entTables()
	tc.change(t, &desired)
	engine, err := Check(ctx, dir, DiffOptions{Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if engine.NoChanges() {
		t.Fatal("the engine finds no change")
	}
	src, err := desired.SchemaSQL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cli := cliDiff(t, ctx, dir, src, policy)
	stmts, directive := strings.CutPrefix(engine.SQL, txModeNoneDirective)
	if stmts != cli {
		t.Fatalf("statements differ.\nengine:\n%s\natlas CLI:\n%s", engine.SQL, cli)
	}
	if directive != tc.concurrent || strings.Contains(stmts, "CONCURRENTLY") != tc.concurrent {
		t.Fatalf("want CONCURRENTLY and the txmode directive: %v; engine wrote:\n%s", tc.concurrent, engine.SQL)
	}
}

// cliDiff computes what the Atlas CLI's `migrate diff` writes for dir with
// the SQL file src as desired state.
func cliDiff(t *testing.T, ctx context.Context, dir atlasmigrate.Dir, src []byte, policy schema.DiffOption) string {
	t.Helper()
	return cliDiffOn(t, ctx, devServer(t), dir, src, policy)
}

// cliDiffOn is cliDiff on the dev database devDB.
func cliDiffOn(t *testing.T, ctx context.Context, devDB DevDatabase, dir atlasmigrate.Dir, src []byte, policy schema.DiffOption) string {
	t.Helper()
	dev, err := openDev(ctx, devDB, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dev.close(); err != nil {
			t.Error(err)
		}
	})
	srcDir := &atlasmigrate.MemDir{}
	if err := srcDir.WriteFile("schema.sql", src); err != nil {
		t.Fatal(err)
	}
	sum, err := srcDir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	if err := atlasmigrate.WriteSumFile(srcDir, sum); err != nil {
		t.Fatal(err)
	}
	want, err := replay(ctx, dev, srcDir, "")
	if err != nil {
		t.Fatalf("run the schema file on the dev database: %v", err)
	}
	if err := dev.reset(ctx); err != nil {
		t.Fatal(err)
	}
	have, err := replay(ctx, dev, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	have.Name, want.Name = "", ""
	changes, err := dev.drv.SchemaDiff(have, want, policy)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planChanges(ctx, dev.drv, "cli", changes)
	if err != nil {
		t.Fatal(err)
	}
	f, err := atlasmigrate.DefaultFormatter.FormatFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	return string(f.Bytes())
}

// atlasHCLDiffPolicy reads the diff block of atlas.hcl's env "local" and
// turns it into the diff option the CLI passes to the library.
func atlasHCLDiffPolicy(t *testing.T) schema.DiffOption {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "atlas.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?ms)^  diff \{\n.*?^  \}\n`).Find(b)
	if block == nil {
		t.Fatal("atlas.hcl has no diff block in env \"local\"")
	}
	// The CLI's env decodes the block the same way: a struct embedding
	// DefaultExtension, whose Extra becomes DiffOptions.Extra.
	type diffBlock struct{ schemahcl.DefaultExtension }
	var cfg struct {
		Diff *diffBlock `spec:"diff"`
	}
	if err := schemahcl.New().EvalBytes(block, &cfg, nil); err != nil {
		t.Fatalf("parse atlas.hcl's diff block: %v", err)
	}
	if cfg.Diff == nil {
		t.Fatalf("atlas.hcl's diff block did not parse:\n%s", block)
	}
	return func(o *schema.DiffOptions) { o.Extra = cfg.Diff.DefaultExtension }
}
