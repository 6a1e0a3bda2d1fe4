package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// checkTreeSchema accepts a tree whose ent/schema.sql is what this build
// renders, and otherwise says which side is older: a schema file older
// than the binary asks for `go generate ./ent`.
func TestTreeSchemaCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tree := t.TempDir()
	for _, d := range []string{"migrations", "ent"} {
		if err := os.Mkdir(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := atlasmigrate.NewLocalDir(filepath.Join(tree, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTreeSchema(ctx, dir); err != nil {
		t.Fatalf("a tree with no schema file: %v", err)
	}
	built, err := EntState().SchemaSQL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(tree, "ent", "schema.sql")
	if err := os.WriteFile(path, built, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkTreeSchema(ctx, dir); err != nil {
		t.Fatalf("a tree whose schema file this build wrote: %v", err)
	}
	if err := os.WriteFile(path, append(built, "-- edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-24 * 365 * time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	err = checkTreeSchema(ctx, dir)
	var stale *StaleSchemaError
	if !errors.As(err, &stale) || stale.TreeNewer || !strings.Contains(err.Error(), "run `go generate ./ent`") {
		t.Fatalf("a schema file older than the binary, and different: %v", err)
	}
}
