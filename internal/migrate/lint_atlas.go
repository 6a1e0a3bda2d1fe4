package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"ariga.io/atlas/schemahcl"
	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	_ "ariga.io/atlas/sql/postgres/postgrescheck" // registers the PostgreSQL analyzers
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlcheck"
	"ariga.io/atlas/sql/sqlclient"
)

// ClassConDrop is the class of Atlas's condrop analyzer (CD…): a column
// dropped together with the constraint that guarded it.
const ClassConDrop = "condrop"

// atlasAnalyzers are the analyzers `atlas migrate lint` runs on
// PostgreSQL (destructive DS…, data_depend MF…, condrop CD…, incompatible
// BC…), from the library, with their default settings.
var atlasAnalyzers = sync.OnceValues(func() ([]sqlcheck.Analyzer, error) {
	return sqlcheck.AnalyzerFor(postgres.DriverName, &schemahcl.Resource{})
})

// classOfCode maps an Atlas diagnostic code to the class its
// `-- atlas:nolint` names.
func classOfCode(code string) string {
	switch {
	case strings.HasPrefix(code, "DS"):
		return ClassDestructive
	case strings.HasPrefix(code, "MF"):
		return ClassDataDepend
	case strings.HasPrefix(code, "BC"):
		return ClassIncompatible
	case strings.HasPrefix(code, "CD"):
		return ClassConDrop
	}
	return code
}

// atlasLint runs Atlas's analyzers on file f, whose statements changed the
// dev database by changes (one entry per statement, in order), and adds
// their diagnostics to rep with Atlas's codes. An analyzer that returns an
// error (destructive does, by default) makes its diagnostics errors, as in
// `atlas migrate lint`; the others are warnings.
func atlasLint(ctx context.Context, dev *devDB, f atlasmigrate.File, stmts []*atlasmigrate.Stmt, changes []*sqlcheck.Change, fileNolint []string, rep *LintReport) error {
	azs, err := atlasAnalyzers()
	if err != nil {
		return fmt.Errorf("load Atlas's lint analyzers: %w", err)
	}
	pass := &sqlcheck.Pass{
		File: &sqlcheck.File{File: f, Changes: changes},
		Dev:  &sqlclient.Client{Name: postgres.DriverName, DB: dev.db, Driver: dev.drv},
	}
	for _, az := range azs {
		var reports []sqlcheck.Report
		pass.Reporter = sqlcheck.ReportWriterFunc(func(r sqlcheck.Report) { reports = append(reports, r) })
		sev := SeverityWarning
		if err := az.Analyze(ctx, pass); err != nil {
			if len(reports) == 0 {
				return fmt.Errorf("lint analyzer %T (Atlas's): %w", az, err)
			}
			sev = SeverityError
		}
		for _, r := range reports {
			for _, d := range r.Diagnostics {
				addAtlasDiagnostic(rep, f.Name(), stmts, fileNolint, sev, d)
			}
		}
	}
	return nil
}

func addAtlasDiagnostic(rep *LintReport, file string, stmts []*atlasmigrate.Stmt, fileNolint []string, sev Severity, d sqlcheck.Diagnostic) {
	class := classOfCode(d.Code)
	fd := Finding{File: file, Severity: sev, Class: class, Code: d.Code, Message: d.Text}
	for i, st := range stmts {
		if st.Pos == d.Pos {
			fd.Stmt, fd.SQL = i+1, st.Text
			if suppressed(stmtNolint(st), class) || suppressed(stmtNolint(st), d.Code) {
				return
			}
		}
	}
	if suppressed(fileNolint, class) || suppressed(fileNolint, d.Code) {
		return
	}
	for _, fx := range d.SuggestedFixes {
		fd.Message += "; " + fx.Message
	}
	rep.Findings = append(rep.Findings, fd)
}

// stmtChange is one statement's entry in the sqlcheck file. A RENAME
// statement's changes are turned from a drop and an add into the rename,
// as the Atlas CLI's SQL parser does before it runs the analyzers (the
// library's differ cannot tell them apart): a rename is then BC101/BC102,
// not DS102/DS103.
func stmtChange(d schema.Differ, st *atlasmigrate.Stmt, changes []schema.Change) (*sqlcheck.Change, error) {
	text := stripLeadingComments(st.Text)
	// applyRenames edits ModifyTable changes in place; the other rules
	// read the statement's changes as the differ gave them.
	changes = slices.Clone(changes)
	for i, c := range changes {
		if m, ok := c.(*schema.ModifyTable); ok {
			cp := *m
			cp.Changes = slices.Clone(m.Changes)
			changes[i] = &cp
		}
	}
	var err error
	if m := reRenameTable.FindStringSubmatch(text); m != nil {
		changes, err = applyRenames(d, changes, nil, []TableRename{{From: lastIdent(m[1]), To: unquoteIdent(m[2])}}, false)
	} else if m := reRenameColumn.FindStringSubmatch(text); m != nil {
		changes, err = applyRenames(d, changes, []ColumnRename{{Table: lastIdent(m[1]), From: unquoteIdent(m[2]), To: unquoteIdent(m[3])}}, nil, false)
	}
	return &sqlcheck.Change{Stmt: st, Changes: changes}, err
}
