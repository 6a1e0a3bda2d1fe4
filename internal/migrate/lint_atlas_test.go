package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"ariga.io/atlas/schemahcl"
	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlcheck"
	"ariga.io/atlas/sql/sqlclient"
)

// atlasReference runs the library's PostgreSQL analyzers the way `atlas
// migrate lint` feeds them (each statement executed on a dev database
// holding the files before it, its schema changes inspected), written
// here independently of lintFile, and returns "file:stmt:code" for every
// diagnostic.
func atlasReference(ctx context.Context, t *testing.T, dir atlasmigrate.Dir) []string {
	t.Helper()
	dev, err := openDev(ctx, devServer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dev.close(); err != nil {
			t.Error(err)
		}
	}()
	azs, err := sqlcheck.AnalyzerFor(postgres.DriverName, &schemahcl.Resource{})
	if err != nil || len(azs) != 4 {
		t.Fatalf("analyzers %d: %v", len(azs), err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		stmts, err := atlasmigrate.FileStmtDecls(dev.drv, f)
		if err != nil {
			t.Fatal(err)
		}
		file := &sqlcheck.File{File: f}
		for _, st := range stmts {
			before, _ := dev.drv.InspectSchema(ctx, "", nil)
			if _, err := dev.db.ExecContext(ctx, st.Text); err != nil {
				t.Fatal(err)
			}
			after, _ := dev.drv.InspectSchema(ctx, "", nil)
			before.Name, after.Name = "", ""
			changes, err := dev.drv.SchemaDiff(before, after, schema.DiffNormalized())
			if err != nil {
				t.Fatal(err)
			}
			// The CLI's parser turns a RENAME's drop and add into the
			// rename before the analyzers run; stmtChange does the same.
			sc, err := stmtChange(dev.drv, st, changes)
			if err != nil {
				t.Fatal(err)
			}
			file.Changes = append(file.Changes, sc)
		}
		for _, az := range azs {
			pass := &sqlcheck.Pass{File: file, Dev: &sqlclient.Client{Name: postgres.DriverName, DB: dev.db, Driver: dev.drv},
				Reporter: sqlcheck.ReportWriterFunc(func(r sqlcheck.Report) {
					for _, d := range r.Diagnostics {
						i := slices.IndexFunc(stmts, func(s *atlasmigrate.Stmt) bool { return s.Pos == d.Pos })
						out = append(out, fmt.Sprintf("%s:%d:%s", f.Name(), i+1, d.Code))
					}
				})}
			_ = az.Analyze(ctx, pass)
		}
	}
	slices.Sort(out)
	return out
}

// For the directory's files and a battery of changes, migrate lint reports
// every diagnostic Atlas's analyzers report, with the same code and
// statement.
func TestLintReportsAtlasDiagnostics(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	addFile(t, dir, "29990101000000_battery.sql", `ALTER TABLE users DROP COLUMN is_active;
ALTER TABLE users ADD COLUMN email character varying NOT NULL;
CREATE UNIQUE INDEX ux_users_password ON users (password_hash);
DROP TABLE auth_sessions;
ALTER TABLE audit_events RENAME COLUMN action TO verb;
ALTER TABLE throttle_counters RENAME TO rate_counters;
ALTER TABLE users ALTER COLUMN username SET NOT NULL;
`)
	want := atlasReference(ctx, t, dir)
	t.Logf("reference: %v", want)
	if len(want) < 5 {
		t.Fatalf("the reference found only %v", want)
	}
	rep, err := Lint(ctx, dir, LintOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		if f.Code != "" && !strings.HasPrefix(f.Code, "AC") {
			got = append(got, fmt.Sprintf("%s:%d:%s", f.File, f.Stmt, f.Code))
		}
	}
	slices.Sort(got)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("lint lacks Atlas's %s (lint: %v)", w, got)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("lint reports Atlas codes %v, the analyzers %v", got, want)
	}
}
