package migrate

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// fixtureDir copies testdata/NAME (a small schema of its own, independent
// of the product's migrations/) into a temporary directory and hashes it,
// so a test can add files on top.
func fixtureDir(t testing.TB, name string) *atlasmigrate.LocalDir {
	t.Helper()
	src := filepath.Join("testdata", name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := atlasmigrate.NewLocalDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := Hash(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// execAll runs statements on db, failing the test on the first error.
func execAll(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
