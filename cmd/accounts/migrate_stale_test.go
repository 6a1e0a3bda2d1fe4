package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	entschema "entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	entmigrate "accounts/ent/migrate"
	"accounts/internal/migrate"
	"accounts/internal/testdb"
)

// A binary built before a schema change cannot decide a migration in a
// source tree whose ent/schema.sql it does not match: it refuses, naming
// what to run, and writes nothing. Both for a field added in ent/schema
// (regenerated after the build) and for a field a teammate's migration
// added. Outside a source tree (no ent/schema.sql) it uses its own schema.
func TestStaleBinaryRefusesToDiff(t *testing.T) {
	t.Parallel()
	bin := accountsBinary(t)
	env := []string{"DATABASE_URL=" + testdb.ServerURL(t), "ACCOUNTS_LOG_LEVEL=warn"}
	withNickname := nicknameSchemaSQL(t)

	// A field added to ent/schema, `go generate ./ent` run, the binary not
	// rebuilt.
	tree := sourceTree(t, withNickname)
	out, err := runIn(t, tree, bin, env, "migrate", "diff", "add_nickname")
	checkStaleRefusal(t, tree, out, err, "rebuild")
	out, err = runIn(t, tree, bin, env, "migrate", "check")
	checkStaleRefusal(t, tree, out, err, "rebuild")

	// A teammate's migration adds the field; this build does not know it.
	tree = sourceTree(t, withNickname)
	teammate := `ALTER TABLE "users" ADD COLUMN "nickname" character varying(32) NULL;` + "\n"
	if err := os.WriteFile(filepath.Join(tree, "migrations", "29990101000000_nickname.sql"), []byte(teammate), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runIn(t, tree, bin, env, "migrate", "hash"); err != nil {
		t.Fatalf("hash: %v\n%s", err, out)
	}
	out, err = runIn(t, tree, bin, env, "migrate", "diff", "after_teammate")
	checkStaleRefusal(t, tree, out, err, "rebuild")

	// The same directory with no ent/schema.sql beside it (a container, a
	// release build): the binary's own schema decides.
	if err := os.RemoveAll(filepath.Join(tree, "ent")); err != nil {
		t.Fatal(err)
	}
	out, err = runIn(t, tree, bin, env, "migrate", "check")
	if err == nil || !strings.Contains(out, `DROP COLUMN "nickname"`) {
		t.Fatalf("check outside a source tree: %v\n%s", err, out)
	}
}

// sourceTree is a scratch tree holding the service's migrations/ and
// schemaSQL as ent/schema.sql.
func sourceTree(t *testing.T, schemaSQL []byte) string {
	t.Helper()
	tree := t.TempDir()
	for _, d := range []string{"migrations", "ent"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src, err := atlasmigrate.NewLocalDir(filepath.Join("..", "..", "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := src.Files()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(src.Path(), atlasmigrate.HashFileName))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{atlasmigrate.HashFileName: sum, "../ent/schema.sql": schemaSQL} {
		if err := os.WriteFile(filepath.Join(tree, "migrations", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tree, "migrations", f.Name()), f.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// nicknameSchemaSQL is what `go generate ./ent` writes as ent/schema.sql
// once User has an optional field nickname (varchar(32)).
func nicknameSchemaSQL(t *testing.T) []byte {
	t.Helper()
	tables := slices.Clone(entmigrate.Tables)
	for i, tab := range tables {
		if tab.Name == "users" {
			users := *tab
			users.Columns = append(slices.Clone(tab.Columns), &entschema.Column{Name: "nickname", Type: field.TypeString, Nullable: true,
				SchemaType: map[string]string{"postgres": "varchar(32)"}})
			tables[i] = &users
		}
	}
	state := migrate.EntState()
	state.Tables = tables
	b, err := state.SchemaSQL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runIn runs the binary in dir and returns its combined output.
func runIn(t *testing.T, dir, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	// The harness's own variable (the run through PgBouncer) is no key of
	// the program's, which would refuse it as a typo.
	base := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, viaPgBouncerEnv+"=") })
	cmd.Dir, cmd.Env = dir, append(base, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkStaleRefusal checks that the binary refused to work from a schema
// other than the tree's, said what to run, and wrote no file.
func checkStaleRefusal(t *testing.T, tree, out string, err error, advice string) {
	t.Helper()
	if err == nil || !strings.Contains(out, "ent/schema.sql differs from the Ent schema built into this binary") || !strings.Contains(out, advice) {
		t.Errorf("want a refusal that says to %s: %v\n%s", advice, err, out)
	}
	names, rerr := filepath.Glob(filepath.Join(tree, "migrations", "*_add_nickname.sql"))
	more, _ := filepath.Glob(filepath.Join(tree, "migrations", "*_after_teammate.sql"))
	if rerr != nil || len(names)+len(more) != 0 {
		t.Errorf("the binary wrote %v %v", names, more)
	}
}
