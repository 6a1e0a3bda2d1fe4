package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// StaleSchemaError is returned by Diff and Check when the migration
// directory sits in a source tree whose ent/schema.sql differs from the
// Ent schema compiled into this binary: a diff from either could undo the
// other's changes (a field a teammate's migration added, dropped again).
type StaleSchemaError struct {
	// Path is the tree's schema file.
	Path string
	// TreeNewer says the schema file changed after this binary was built.
	TreeNewer bool
}

func (e *StaleSchemaError) Error() string {
	msg := e.Path + " differs from the Ent schema built into this binary, so a migration decided from either could undo the other's changes; nothing was written.\n"
	if e.TreeNewer {
		return msg + e.Path + " changed after this binary was built: rebuild it (`go build ./cmd/accounts`), or run `make migrate-diff NAME=…`, which builds from the tree"
	}
	return msg + "This binary was built after " + e.Path + " was written: run `go generate ./ent`, then this command again"
}

// checkTreeSchema refuses (*StaleSchemaError) when dir is a directory on
// disk with ent/schema.sql beside it (dir/../ent/schema.sql, the layout of
// this repository) and that file is not what the compiled-in Ent schema
// renders. With no such file (the embedded directory, a container, a
// release build) the compiled-in schema is the only one and nothing is
// checked.
func checkTreeSchema(ctx context.Context, dir atlasmigrate.Dir) error {
	ld, ok := dir.(*atlasmigrate.LocalDir)
	if !ok {
		return nil
	}
	path := filepath.Join(filepath.Dir(filepath.Clean(ld.Path())), filepath.FromSlash(SchemaFile))
	tree, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the tree's desired schema: %w", err)
	}
	built, err := EntState().SchemaSQL(ctx)
	if err != nil {
		return err
	}
	if bytes.Equal(tree, built) {
		return nil
	}
	return &StaleSchemaError{Path: filepath.ToSlash(path), TreeNewer: modTime(path).After(executableTime())}
}

// modTime is the modification time of path, zero when unknown.
func modTime(path string) time.Time {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// executableTime is when the running binary was written, zero when
// unknown.
func executableTime() time.Time {
	exe, err := os.Executable()
	if err != nil {
		return time.Time{}
	}
	return modTime(exe)
}
