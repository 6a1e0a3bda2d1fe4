package migrate

import (
	"context"
	"database/sql"
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
	"github.com/zclconf/go-cty/cty/function"
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
// file, byte for byte. The CLI's side is done here as the CLI does it with a
// SQL desired state (see atlas-compat.md): run the schema file on a clean
// dev schema as a one-file directory, inspect it, empty the schema, replay
// migrations/, inspect, diff with atlas.hcl's diff policy, plan unqualified,
// and format with atlas.hcl's format. The engine's file then applies.
func TestAtlasCLIDiffMatchesEngine(t *testing.T) {
	t.Parallel()
	policy := atlasHCLDiffPolicy(t)
	format := atlasHCLDiffFormat(t)
	for _, tc := range cliDiffCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkCLIDiffMatchesEngine(t, tc, policy, format)
		})
	}
}

// cliDiffCase is one schema change TestAtlasCLIDiffMatchesEngine diffs both
// ways: change edits the service's desired state, and none says whether
// the file must run outside a transaction (`-- atlas:txmode none`). When
// refused is set, no file can make the change: the engine writes nothing
// and says refused, and the file the CLI writes fails to apply.
type cliDiffCase struct {
	name    string
	change  func(t *testing.T, d *DesiredState)
	none    bool
	refused string
}

// cliDiffCases lists the schema changes TestAtlasCLIDiffMatchesEngine
// covers: those of issue 28 (an index added and one dropped on an existing
// table, a new table with its indexes, an enum value added and used, a
// column with a concurrent index), plus a column, an enum value, and the
// renames Ent cannot tell from a drop and an add.
func cliDiffCases() []cliDiffCase {
	return []cliDiffCase{
		{name: "add column", change: func(t *testing.T, d *DesiredState) {
			addColumn(t, d, "users", "nickname")
		}},
		{name: "enum value", change: func(t *testing.T, d *DesiredState) {
			roleColumn(t, d).Enums = append(roleColumn(t, d).Enums, "AUDITOR")
		}},
		{name: "enum value added and used", none: true, change: func(t *testing.T, d *DesiredState) {
			role := roleColumn(t, d)
			role.Enums, role.Default = append(role.Enums, "GUEST"), "GUEST"
		}},
		{name: "new table with enum", change: func(t *testing.T, d *DesiredState) {
			*d = changedState()
		}},
		{name: "new table with indexes", change: func(t *testing.T, d *DesiredState) {
			*d = changedState()
			events := tableByName(t, d.Tables, "login_events")
			events.Indexes = []*entschema.Index{
				{Name: "ix_login_events_user_id", Columns: events.Columns[2:3]},
				{Name: "ux_login_events_id_kind", Unique: true, Columns: events.Columns[0:2]},
			}
		}},
		{name: "new index", none: true, change: func(t *testing.T, d *DesiredState) {
			addIndex(t, d, "users", "ix_users_is_active", "is_active")
		}},
		{name: "drop index", none: true, change: func(t *testing.T, d *DesiredState) {
			dropIndex(t, d, "users", "ix_users_created_at_id")
		}},
		{name: "column with concurrent index", none: true, change: func(t *testing.T, d *DesiredState) {
			addColumn(t, d, "users", "display_name")
			addIndex(t, d, "users", "ix_users_display_name", "display_name")
		}},
		{name: "rename column", change: func(t *testing.T, d *DesiredState) {
			*d = renamedColumnState(t)
		}},
		{name: "rename table", refused: "--rename-table throttle_counters=rate_counters", change: func(t *testing.T, d *DesiredState) {
			tableByName(t, d.Tables, "throttle_counters").Name = "rate_counters"
		}},
		{name: "rename index", none: true, change: func(t *testing.T, d *DesiredState) {
			for _, ix := range tableByName(t, d.Tables, "audit_events").Indexes {
				if ix.Name == "ix_audit_events_actor_id" {
					ix.Name = "ix_audit_actor"
				}
			}
		}},
	}
}

func addColumn(t *testing.T, d *DesiredState, table, name string) {
	t.Helper()
	tab := tableByName(t, d.Tables, table)
	tab.Columns = append(tab.Columns, &entschema.Column{Name: name, Type: field.TypeString, Nullable: true})
}

func roleColumn(t *testing.T, d *DesiredState) *entschema.Column {
	t.Helper()
	for _, c := range tableByName(t, d.Tables, "users").Columns {
		if c.Name == "role" {
			return c
		}
	}
	t.Fatal("users has no column role")
	return nil
}

func addIndex(t *testing.T, d *DesiredState, table, name, column string) {
	t.Helper()
	tab := tableByName(t, d.Tables, table)
	for _, c := range tab.Columns {
		if c.Name == column {
			tab.Indexes = append(tab.Indexes, &entschema.Index{Name: name, Columns: []*entschema.Column{c}})
			return
		}
	}
	t.Fatalf("%s has no column %s", table, column)
}

func dropIndex(t *testing.T, d *DesiredState, table, name string) {
	t.Helper()
	tab := tableByName(t, d.Tables, table)
	kept := tab.Indexes[:0]
	for _, idx := range tab.Indexes {
		if idx.Name != name {
			kept = append(kept, idx)
		}
	}
	if len(kept) == len(tab.Indexes) {
		t.Fatalf("%s has no index %s to drop", table, name)
	}
	tab.Indexes = kept
}

// checkCLIDiffMatchesEngine applies tc's change to the service's desired
// state, diffs it against the snapshot's migrations with the engine and as
// the Atlas CLI does, checks that both write the same file, with the
// txmode directive exactly when tc says, and that the file applies on a
// database holding the snapshot's migrations.
func checkCLIDiffMatchesEngine(t *testing.T, tc cliDiffCase, policy schema.DiffOption, format atlasmigrate.Formatter) {
	t.Helper()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	desired := serviceState()
	tc.change(t, &desired)
	src, err := desired.SchemaSQL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cli := cliDiff(t, ctx, dir, src, policy, format)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	engine, err := Diff(ctx, dir, DiffOptions{Name: "change", Desired: &desired, Dev: devServer(t)})
	if tc.refused != "" {
		checkBothRefuse(t, db, tc.refused, err, cli)
		return
	}
	if err != nil {
		t.Fatalf("%v\natlas CLI:\n%s", err, cli)
	}
	if engine.SQL != cli {
		t.Fatalf("the files differ.\nengine:\n%s\natlas CLI:\n%s", engine.SQL, cli)
	}
	if none := strings.HasPrefix(cli, txModeNoneDirective); none != tc.none {
		t.Fatalf("want the txmode none directive: %v; both wrote:\n%s", tc.none, cli)
	}
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatalf("the written file does not apply: %v\n%s", err, cli)
	}
}

// checkBothRefuse checks that the engine refused a change, naming the fix
// (want), and that the file the CLI wrote for it does not apply.
func checkBothRefuse(t *testing.T, db *sql.DB, want string, engineErr error, cli string) {
	t.Helper()
	if engineErr == nil || !strings.Contains(engineErr.Error(), want) {
		t.Errorf("the engine's diff: %v; want a refusal naming %s", engineErr, want)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }() // the file must fail; nothing to keep
	if _, err := tx.Exec(cli); err == nil {
		t.Errorf("the CLI's file applies:\n%s", cli)
	}
}

// cliDiff computes what the Atlas CLI's `migrate diff` writes for dir with
// the SQL file src as desired state.
func cliDiff(t *testing.T, ctx context.Context, dir atlasmigrate.Dir, src []byte, policy schema.DiffOption, format atlasmigrate.Formatter) string {
	t.Helper()
	return cliDiffOn(t, ctx, devServer(t), dir, src, policy, format)
}

// cliDiffOn is cliDiff on the dev database devDB.
func cliDiffOn(t *testing.T, ctx context.Context, devDB DevDatabase, dir atlasmigrate.Dir, src []byte, policy schema.DiffOption, format atlasmigrate.Formatter) string {
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
	files, err := format.Format(plan)
	if err != nil || len(files) != 1 {
		t.Fatalf("format the plan: %d file(s), %v", len(files), err)
	}
	return string(files[0].Bytes())
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

// atlasHCLDiffFormat reads the format of `migrate diff` from atlas.hcl's env
// "local" as the CLI does (with its file function, relative to atlas.hcl)
// and parses it as the CLI parses a content template.
func atlasHCLDiffFormat(t *testing.T) atlasmigrate.Formatter {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "atlas.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?ms)^  format \{\n.*?^  \}\n`).Find(b)
	if block == nil {
		t.Fatal("atlas.hcl has no format block in env \"local\"")
	}
	var cfg struct {
		Format struct {
			Migrate struct {
				Diff string `spec:"diff"`
			} `spec:"migrate"`
		} `spec:"format"`
	}
	state := schemahcl.New(schemahcl.WithFunctions(map[string]function.Function{"file": schemahcl.MakeFileFunc(root)}))
	if err := state.EvalBytes(block, &cfg, nil); err != nil {
		t.Fatalf("parse atlas.hcl's format block: %v", err)
	}
	if cfg.Format.Migrate.Diff == "" {
		t.Fatalf("atlas.hcl's format block sets no migrate diff format:\n%s", block)
	}
	f, err := parseDiffTemplate(cfg.Format.Migrate.Diff)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
