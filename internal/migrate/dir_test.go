package migrate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenDirPrefersWorkingDirectory(t *testing.T) {
	t.Parallel()
	dir := serviceDir(t)
	// The snapshot stands in for the embedded files too: the same files
	// either way, as in the binary.
	embedded := os.DirFS(filepath.Join("testdata", "service"))
	d, origin, err := OpenDir(dir.Path(), embedded)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(origin, "working directory") {
		t.Errorf("origin %q", origin)
	}
	localHead, _ := Head(d)
	e, origin, err := OpenDir(filepath.Join(t.TempDir(), "absent"), embedded)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "embedded in the binary" {
		t.Errorf("origin %q", origin)
	}
	embeddedHead, _ := Head(e)
	if embeddedHead == "" || embeddedHead != localHead {
		t.Errorf("embedded head %q, working-directory head %q", embeddedHead, localHead)
	}
	if err := Validate(e); err != nil {
		t.Errorf("the embedded directory does not validate: %v", err)
	}
	if err := e.WriteFile("x.sql", nil); err == nil {
		t.Error("the embedded directory accepted a write")
	}
	if _, _, err := OpenDir(filepath.Join(t.TempDir(), "absent"), nil); err == nil {
		t.Error("no directory and nothing embedded, yet no error")
	}
}

func TestNewHashAndValidate(t *testing.T) {
	t.Parallel()
	dir := serviceDir(t)
	name, err := New(dir, "backfill_roles")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(name, "_backfill_roles.sql") {
		t.Errorf("new file %q", name)
	}
	if err := Validate(dir); err != nil {
		t.Fatalf("new file is not hashed: %v", err)
	}
	// Two files within one second still get distinct, increasing versions.
	second, err := New(dir, "another")
	if err != nil {
		t.Fatal(err)
	}
	if second <= name {
		t.Errorf("second version %q not after %q", second, name)
	}
	if _, err := New(dir, "bad name!"); err == nil {
		t.Error("a name with spaces was accepted")
	}
	if err := os.WriteFile(filepath.Join(dir.Path(), name), []byte("UPDATE users SET role = 'USER';\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ce *ChecksumMismatchError
	if err := Validate(dir); !errors.As(err, &ce) || ce.File != name {
		t.Fatalf("validate after edit: %v", err)
	}
	if err := Hash(dir); err != nil {
		t.Fatal(err)
	}
	if err := Validate(dir); err != nil {
		t.Fatalf("validate after hash: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir.Path(), "20000101000000_early.sql"), []byte("SELECT 1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Validate(dir); !errors.As(err, &ce) || ce.Reason != "added" {
		t.Fatalf("validate with an unhashed file: %v", err)
	}
}

func TestNextVersionIsUTC(t *testing.T) {
	t.Parallel()
	dir := serviceDir(t)
	loc := time.FixedZone("east", 5*3600)
	v, err := nextVersion(dir, time.Date(2999, 6, 1, 3, 0, 0, 0, loc))
	if err != nil {
		t.Fatal(err)
	}
	if v != "29990531220000" {
		t.Errorf("version %s, want the UTC time 29990531220000", v)
	}
}
