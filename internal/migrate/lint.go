package migrate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlcheck"
)

// Severity of a lint finding.
type Severity string

// Severities: errors make `migrate lint` exit 1, warnings are printed.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Lint check classes, usable in `-- atlas:nolint CLASS` comments (see also
// ClassIncompatible).
const (
	ClassDestructive = "destructive"
	ClassDataDepend  = "data_depend"
	ClassLock        = "lock"
)

// Finding is one problem lint found in a migration file.
type Finding struct {
	File     string
	Stmt     int    // 1-based statement position; 0 for the file as a whole
	SQL      string // the statement
	Severity Severity
	Class    string // destructive, data_depend, incompatible, condrop, lock, txmode or exec
	// Code is the diagnostic's stable code: Atlas's own (DS…, MF…, BC…,
	// CD…, the same as `atlas migrate lint`) for what its analyzers check,
	// AC… for this engine's rules (the `migrate lint` row of
	// docs/migrations.md lists them).
	Code    string
	Message string
}

func (f Finding) String() string {
	where := f.File
	if f.Stmt > 0 {
		where = fmt.Sprintf("%s statement %d", f.File, f.Stmt)
	}
	return fmt.Sprintf("%s: %s [%s %s]: %s", where, f.Severity, f.Class, f.Code, f.Message)
}

// LintReport lists the findings of a lint run.
type LintReport struct {
	Files    []string // files analysed
	Findings []Finding
}

// Errors counts the findings of error severity.
func (r *LintReport) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

// LintOptions tunes Lint.
type LintOptions struct {
	// Latest analyses the newest N files; all files when zero.
	Latest int
	// Dev says where the dev database comes from.
	Dev DevDatabase
}

// Lint analyses migration files for changes that lose data, that depend on
// the data in the table, that hold long exclusive locks, or that break the
// release still running during a deploy (`migrate lint`).
// Files before the analysed ones are replayed on a dev database; each
// analysed statement is executed there and its effect on the schema
// inspected; Atlas's own analyzers then run on the file with those
// changes. A statement preceded by `-- atlas:nolint` (optionally naming
// classes: destructive, data_depend, incompatible, condrop, lock, txmode;
// or codes such as DS103 or AC101) is exempt.
func Lint(ctx context.Context, dir atlasmigrate.Dir, opts LintOptions) (rep *LintReport, err error) {
	if err := Validate(dir); err != nil {
		return nil, err
	}
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	if opts.Latest < 0 {
		return nil, fmt.Errorf("--latest must be positive, got %d", opts.Latest)
	}
	first := 0
	if opts.Latest > 0 && opts.Latest < len(files) {
		first = len(files) - opts.Latest
	}
	rep = &LintReport{}
	if len(files) == 0 {
		return rep, nil
	}
	dev, err := openDev(ctx, opts.Dev, nil)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, dev.close()) }()
	if first > 0 {
		if _, err := replay(ctx, dev, dir, files[first-1].Version()); err != nil {
			return nil, err
		}
	}
	for _, f := range files[first:] {
		rep.Files = append(rep.Files, f.Name())
		ok, err := lintFile(ctx, dev, f, rep)
		if err != nil {
			return nil, err
		}
		if !ok {
			break // the dev database no longer matches the directory
		}
	}
	return rep, nil
}

func lintFile(ctx context.Context, dev *devDB, f atlasmigrate.File, rep *LintReport) (bool, error) {
	stmts, err := atlasmigrate.FileStmtDecls(dev.drv, f)
	if err != nil {
		return false, fmt.Errorf("read statements of %s: %w", f.Name(), err)
	}
	fileStart, err := dev.drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return false, err
	}
	fileNolint := fileDirectives(f, "nolint")
	existed := func(table string) bool {
		_, ok := fileStart.Table(table)
		return ok
	}
	deploy := &deployCheck{file: f.Name(), fileNolint: fileNolint, existed: existed}
	useIdx, useLit := addedValueUse(f, stmts)
	var perStmt []*sqlcheck.Change
	before := fileStart
	for i, st := range stmts {
		add := func(code string, sev Severity, class, msg string) {
			if suppressed(fileNolint, class) || suppressed(stmtNolint(st), class) || suppressed(fileNolint, code) || suppressed(stmtNolint(st), code) {
				return
			}
			rep.Findings = append(rep.Findings, Finding{File: f.Name(), Stmt: i + 1, SQL: st.Text, Severity: sev, Class: class, Code: code, Message: msg})
		}
		if _, err := dev.db.ExecContext(ctx, st.Text); err != nil {
			rep.Findings = append(rep.Findings, Finding{File: f.Name(), Stmt: i + 1, SQL: st.Text, Severity: SeverityError, Class: "exec", Code: "AC001",
				Message: fmt.Sprintf("the statement fails on a database migrated up to this file: %v", err)})
			return false, nil
		}
		after, err := dev.drv.InspectSchema(ctx, "", nil)
		if err != nil {
			return false, err
		}
		b, a := *before, *after
		b.Name, a.Name = "", ""
		changes, err := dev.drv.SchemaDiff(&b, &a, schema.DiffNormalized())
		if err != nil {
			return false, err
		}
		changes = renamedConstraints(st.Text, changes)
		if !reRenameType.MatchString(st.Text) { // a renamed type is no dropped type, and its columns keep their data
			lintChanges(changes, st.Text, existed, add)
			sc, err := stmtChange(dev.drv, st, changes)
			if err != nil {
				return false, err
			}
			perStmt = append(perStmt, sc)
		}
		if err := lintBlocking(ctx, dev, f, st.Text, changes, existed, add); err != nil {
			return false, err
		}
		lintText(st.Text, add)
		if i == useIdx {
			add("AC202", SeverityError, ClassTxMode, fmt.Sprintf("uses enum value %s, which an earlier ALTER TYPE … ADD VALUE of this file adds; PostgreSQL refuses that in one transaction "+
				"(SQLSTATE 55P04, unsafe use of new value), so the file never applies: start this file with `-- atlas:txmode none` and a blank line "+
				"(`migrate diff` does), or move the ADD VALUE to a separate file before this one", useLit))
		}
		if !enumRecreation(st.Text, fileStart) {
			deploy.statement(i, st, changes)
		}
		before = after
	}
	rep.Findings = append(rep.Findings, deploy.findings()...)
	lintEnumValues(f.Name(), stmts, fileStart, before, fileNolint, rep)
	if err := atlasLint(ctx, dev, f, stmts, perStmt, fileNolint, rep); err != nil {
		return false, err
	}
	return true, lintRenameHints(dev, f, fileStart, before, fileNolint, rep)
}

// lintRenameHints reports a file that drops a column and adds one of the
// same type to the same table: if that is a rename, the data is lost, and
// `migrate diff --rename-column` writes the RENAME instead. A column the
// file renames with RENAME COLUMN is no such pair.
func lintRenameHints(dev *devDB, f atlasmigrate.File, start, end *schema.Schema, fileNolint []string, rep *LintReport) error {
	if suppressed(fileNolint, ClassDestructive) {
		return nil
	}
	undo, _, err := revertedRenames(dev.drv, []atlasmigrate.File{f})
	if err != nil {
		return err
	}
	renamed := func(table string, p [2]string) bool {
		return slices.Contains(undo, ColumnRename{Table: table, From: p[1], To: p[0]})
	}
	b, a := *start, *end
	b.Name, a.Name = "", ""
	changes, err := dev.drv.SchemaDiff(&b, &a)
	if err != nil {
		return err
	}
	for _, c := range changes {
		m, ok := c.(*schema.ModifyTable)
		if !ok {
			continue
		}
		for _, p := range dropAddPairs(m) {
			if renamed(m.T.Name, p) {
				continue
			}
			rep.Findings = append(rep.Findings, Finding{File: f.Name(), Severity: SeverityWarning, Class: ClassDestructive, Code: "AC303",
				Message: fmt.Sprintf("drops column %s.%s and adds %s.%s of the same type: if it is a rename, the data is lost; "+
					"`accounts migrate diff NAME --rename-column %s.%s=%s` writes ALTER TABLE … RENAME COLUMN, which keeps it",
					m.T.Name, p[0], m.T.Name, p[1], m.T.Name, p[0], p[1])})
		}
	}
	return nil
}

// addedValueUse finds, in a file that runs in a transaction, the first
// statement that uses an enum value an earlier statement adds; -1 when
// there is none.
func addedValueUse(f atlasmigrate.File, stmts []*atlasmigrate.Stmt) (int, string) {
	if slices.Contains(fileDirectives(f, "txmode"), string(TxModeNone)) {
		return -1, ""
	}
	texts := make([]string, len(stmts))
	for i, st := range stmts {
		texts[i] = st.Text
	}
	return usesAddedValue(texts)
}

// addFinding records a finding of the statement being linted, unless a
// nolint directive names its class or code.
type addFinding func(code string, sev Severity, class, msg string)

func lintChanges(changes []schema.Change, stmt string, existed func(string) bool, add addFinding) {
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.DropObject:
			if e, ok := c.O.(*schema.EnumType); ok && !strings.HasSuffix(e.T, "_old") {
				add("AC301", SeverityError, ClassDestructive, fmt.Sprintf("drops enum type %s", e.T))
			}
		case *schema.ModifyTable:
			if !existed(c.T.Name) {
				continue // created in this file: empty, nothing to lose or lock
			}
			for _, tc := range c.Changes {
				switch tc := tc.(type) {
				case *schema.ModifyColumn:
					if tc.Change.Is(schema.ChangeType) && rewritesTable(tc.From, tc.To) {
						add("AC102", SeverityWarning, ClassLock, fmt.Sprintf("changing the type of %s.%s may rewrite the table under an ACCESS EXCLUSIVE lock, blocking reads and writes; instead add a column of the new type, fill it in batches, move reads and writes to it, then drop the old one", c.T.Name, tc.To.Name))
					}
					if msg := narrowing(c.T.Name, tc); msg != "" {
						add("AC401", SeverityWarning, ClassDataDepend, msg)
					}
				}
			}
		case *schema.ModifyObject:
			lintEnumModify(c, stmt, add)
		}
	}
}

var lockStmt = regexp.MustCompile(`(?is)^\s*(LOCK\s+TABLE|VACUUM\s+FULL|CLUSTER\b|REINDEX\s+(TABLE|INDEX|SCHEMA|DATABASE)\s+[^C])`)

func lintText(stmt string, add addFinding) {
	if lockStmt.MatchString(stmt) {
		add("AC103", SeverityWarning, ClassLock, "takes an exclusive lock for the whole operation")
	}
}

func indexColumns(idx *schema.Index) string {
	var cols []string
	for _, p := range idx.Parts {
		switch {
		case p.C != nil:
			cols = append(cols, p.C.Name)
		case p.X != nil:
			if x, ok := p.X.(*schema.RawExpr); ok {
				cols = append(cols, x.X)
			}
		}
	}
	return strings.Join(cols, ", ")
}

// fileDirectives returns the arguments of the `-- atlas:NAME args`
// directives in the file's header, nil when there are none.
func fileDirectives(f atlasmigrate.File, name string) []string {
	lf, ok := f.(*atlasmigrate.LocalFile)
	if !ok {
		return nil
	}
	ds := lf.Directive(name)
	if len(ds) == 0 {
		return nil
	}
	var out []string
	for _, d := range ds {
		out = append(out, strings.Fields(d)...)
	}
	if len(out) == 0 {
		out = []string{"*"}
	}
	return out
}

var nolintComment = regexp.MustCompile(`atlas:nolint\b([^\n]*)`)

func stmtNolint(st *atlasmigrate.Stmt) []string {
	var out []string
	for _, c := range st.Comments {
		m := nolintComment.FindStringSubmatch(c)
		if m == nil {
			continue
		}
		fs := strings.Fields(m[1])
		if len(fs) == 0 {
			return []string{"*"}
		}
		out = append(out, fs...)
	}
	return out
}

func suppressed(list []string, class string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, class)
}
