package migrate

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Status counts add up: every file is applied, failed, partial or pending,
// and an applied revision whose file is gone is counted as such; the
// failed statement's position is the one apply printed.
func TestStatusCountsAddUp(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := fixtureDir(t, "base")
	addFile(t, dir, "20000101000001_gone.sql", "CREATE TABLE gone (id int);\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir.Path(), "20000101000001_gone.sql")); err != nil {
		t.Fatal(err)
	}
	addFile(t, dir, "20000101000002_fails.sql", "CREATE TABLE t2 (id int);\nSELECT 1/0;\n")
	addFile(t, dir, "20000101000003_later.sql", "CREATE TABLE t3 (id int);\n")
	_, err := Apply(ctx, db, dir, ApplyOptions{})
	var se *StatementError
	if !errors.As(err, &se) || se.Index != 2 || se.Total != 2 {
		t.Fatalf("apply: %v", err)
	}
	st, err := Status(ctx, db, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	c := st.Counts
	if c.Applied != 1 || c.Failed != 1 || c.Partial != 0 || c.Pending != 1 || c.MissingFile != 1 {
		t.Errorf("counts %+v, want applied 1, failed 1, pending 1, missing file 1", c)
	}
	if c.Applied+c.Failed+c.Partial+c.Pending != 3 {
		t.Errorf("counts %+v do not add up to the 3 files", c)
	}
	if st.LastError == nil || st.LastErrorStmt != 2 {
		t.Errorf("last error at statement %d, apply said 2 of 2", st.LastErrorStmt)
	}
}
