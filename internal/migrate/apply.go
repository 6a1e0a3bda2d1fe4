package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"github.com/jackc/pgx/v5/pgconn"
)

// TxMode says how apply wraps migration files in transactions.
type TxMode string

// Transaction modes, as in `atlas migrate apply --tx-mode`.
const (
	TxModeFile TxMode = "file" // each file in its own transaction (default)
	TxModeAll  TxMode = "all"  // all pending files in one transaction
	TxModeNone TxMode = "none" // no transaction; a failure leaves earlier statements applied
)

// ParseTxMode checks a --tx-mode value.
func ParseTxMode(s string) (TxMode, error) {
	switch m := TxMode(s); m {
	case "":
		return TxModeFile, nil
	case TxModeFile, TxModeAll, TxModeNone:
		return m, nil
	}
	return "", fmt.Errorf("unknown --tx-mode %q: use file, all or none", s)
}

// ApplyOptions tunes Apply. The zero value applies every pending file, each
// in its own transaction.
type ApplyOptions struct {
	// N applies at most N pending files; 0 applies them all.
	N int
	// To applies pending files up to and including this version.
	To string
	// DryRun prints the SQL that would run and changes nothing, not even
	// the revision table, and takes no lock.
	DryRun bool
	// Baseline marks a database that already has the schema of this version
	// (but no revision table) as being at it; later files are applied.
	Baseline string
	// TxMode defaults to TxModeFile.
	TxMode TxMode
	// Operator is written to operator_version; DefaultOperator() when empty.
	Operator string
	// RevisionSchema holds the revision table; RevisionSchema when empty.
	RevisionSchema string
	// Out receives one line per file and a summary; nil discards them.
	Out io.Writer
	// LockTimeout bounds the wait for the migration lock; 0 waits as long
	// as ctx allows.
	LockTimeout time.Duration
	// StatementLockTimeout is the lock_timeout of every migration
	// statement; 0 means DefaultStatementLockTimeout, negative none.
	StatementLockTimeout time.Duration
	// LockRetries is how often a file whose statement hit lock_timeout is
	// tried again (resuming at that statement); 0 means DefaultLockRetries,
	// negative none.
	LockRetries int
	// LockRetryBackoff is the first pause before such a retry, doubling
	// after each; 0 means DefaultLockRetryBackoff.
	LockRetryBackoff time.Duration
	// From, with DryRun or SQL, is the version the database is at
	// (FromNone for none): the later files are printed without a database.
	From string
	// SQL, with From, prints a script for psql instead of a dry run: only
	// SQL, each file in its transaction mode with its revision rows.
	SQL bool
}

// FileResult is what happened to one migration file.
type FileResult struct {
	Name       string        // file name
	Version    string        // version part of the name
	Statements int           // statements in the file
	Skipped    int           // statements applied by an earlier, interrupted run
	Executed   int           // statements executed by this run
	Duration   time.Duration // time spent on the file
	SQL        []string      // statements run (or, on a dry run, that would run)
	Err        error         // non-nil when the file failed
	RolledBack bool          // the file's changes were rolled back
}

// ApplyReport summarises a run of Apply.
type ApplyReport struct {
	From     string // version before the run ("" for an empty history)
	To       string // version after the run
	Pending  int    // files pending before the run
	Files    []FileResult
	DryRun   bool
	Duration time.Duration
}

// Statements is the number of statements executed (or, on a dry run, that
// would be executed).
func (r *ApplyReport) Statements() int {
	n := 0
	for _, f := range r.Files {
		if r.DryRun {
			n += len(f.SQL)
		} else {
			n += f.Executed
		}
	}
	return n
}

// StatementError is returned when a statement of a migration file fails.
type StatementError struct {
	File       string // file name
	Index      int    // 1-based position of the statement in the file
	Total      int    // statements in the file
	Stmt       string // the statement
	Err        error  // the database's error
	RolledBack bool   // the file (or, with tx-mode all, the run) was rolled back
	Kept       int    // statements of the file that stay applied (tx-mode none)
}

func (e *StatementError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migration %s failed at statement %d of %d: %s\n  statement: %s\n",
		e.File, e.Index, e.Total, dbErrorText(e.Err), strings.TrimSpace(e.Stmt))
	if e.RolledBack {
		b.WriteString("  the file was rolled back and its failure is recorded in the revision table;")
	} else {
		fmt.Fprintf(&b, "  %d statement(s) before it stay applied (no transaction); the next run resumes at statement %d;", e.Kept, e.Index)
	}
	b.WriteString(" fix the statement (then `accounts migrate hash` if the file was edited) and run `accounts migrate apply` again")
	return b.String()
}

func (e *StatementError) Unwrap() error { return e.Err }

// dbErrorText is err with PostgreSQL's detail and hint, which pgconn
// leaves out of Error(): the detail of a failed unique index build names
// the duplicated key.
func dbErrorText(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err.Error()
	}
	s := err.Error()
	if pgErr.Detail != "" {
		s += "; " + pgErr.Detail
	}
	if pgErr.Hint != "" {
		s += "; hint: " + pgErr.Hint
	}
	return s
}

// ApplyAll applies every pending file of dir to db under the migration lock,
// each file in its own transaction. operator is written to operator_version
// (DefaultOperator() when empty). The tests' database templates
// (internal/testdb) and the benchmark's seeding use it; `serve --migrate`
// and `migrate apply` call Apply with their options.
func ApplyAll(ctx context.Context, db *sql.DB, dir atlasmigrate.Dir, operator string) error {
	_, err := Apply(ctx, db, dir, ApplyOptions{Operator: operator})
	return err
}

// Apply applies pending migration files to db (`migrate apply`). Unless it
// is a dry run, it holds the PostgreSQL advisory lock for the whole run, so
// concurrent appliers apply each file exactly once: the others wait, then
// find nothing to do. A dry run with From needs no database (db may be
// nil): it prints the files after that version.
func Apply(ctx context.Context, db *sql.DB, dir atlasmigrate.Dir, opts ApplyOptions) (rep *ApplyReport, err error) {
	start := time.Now()
	mode, err := ParseTxMode(string(opts.TxMode))
	if err != nil {
		return nil, err
	}
	if opts.Operator == "" {
		opts.Operator = DefaultOperator()
	}
	out := newOutput(opts.Out)
	defer func() { err = errors.Join(err, out.err) }()
	switch {
	case opts.From != "" && opts.SQL:
		return offlineScript(dir, opts, mode, out)
	case opts.SQL:
		return nil, errors.New("--sql writes a script for a database at a known version without connecting to it: add --from VERSION (or --from none for an empty database)")
	case opts.From != "" && !opts.DryRun:
		return nil, errors.New("--from VERSION says where the database is for a dry run without it; use it with --dry-run or --sql")
	case opts.From != "":
		return offlineDryRun(dir, opts, out, start)
	}
	conn, closeSession, err := session(ctx, db, dir, opts.DryRun, opts.LockTimeout, out)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeSession()) }()
	revs := NewRevisionTable(conn, opts.RevisionSchema)
	if !opts.DryRun {
		if err := revs.Ensure(ctx); err != nil {
			return nil, err
		}
		resetLockTimeout, err := setLockTimeout(ctx, conn, lockPolicyOf(opts))
		if err != nil {
			return nil, err
		}
		defer resetLockTimeout()
	}
	drv, err := postgres.Open(conn)
	if err != nil {
		return nil, fmt.Errorf("open the database for migration: %w", err)
	}
	rep = &ApplyReport{DryRun: opts.DryRun}
	pending, err := pendingFiles(ctx, drv, dir, revs, opts, rep, out)
	if err != nil {
		return nil, err
	}
	if len(pending) == 0 {
		return rep, noPending(ctx, revs, rep, out, start)
	}
	if opts.DryRun {
		return dryRun(ctx, drv, revs, pending, rep, out, start)
	}
	modes, err := modesNote(pending, mode)
	if err != nil {
		return nil, err
	}
	out.printf("Migrating from %s to %s (%d file(s), %s):\n",
		orNone(rep.From), pending[len(pending)-1].Version(), len(pending), modes)
	run := &applyRun{ctx: ctx, conn: conn, dir: dir, revs: revs, opts: opts, mode: mode, out: out}
	err = run.files(pending, rep)
	if after, rerr := revs.ReadRevisions(ctx); rerr == nil {
		rep.To = currentVersion(after)
	}
	rep.Duration = time.Since(start)
	if err != nil {
		return rep, err
	}
	out.printf("Applied %d file(s), %d statement(s) in %s; the database is at version %s.\n",
		len(rep.Files), rep.Statements(), round(rep.Duration), rep.To)
	return rep, nil
}

// pendingFiles returns the files this run applies (the pending ones, as
// N and To select them), recording in rep where the database starts.
func pendingFiles(ctx context.Context, drv atlasmigrate.Driver, dir atlasmigrate.Dir, revs *RevisionTable, opts ApplyOptions, rep *ApplyReport, out *output) ([]atlasmigrate.File, error) {
	var rrw atlasmigrate.RevisionReadWriter = revs
	if opts.DryRun {
		rrw = readOnlyRevisions{revs}
	}
	exOpts := []atlasmigrate.ExecutorOption{atlasmigrate.WithOperatorVersion(opts.Operator)}
	if opts.Baseline != "" {
		exOpts = append(exOpts, atlasmigrate.WithBaselineVersion(opts.Baseline))
	}
	ex, err := atlasmigrate.NewExecutor(drv, dir, rrw, exOpts...)
	if err != nil {
		return nil, err
	}
	before, err := revs.ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	rep.From = currentVersion(before)
	pending, err := ex.Pending(ctx)
	switch {
	case errors.Is(err, atlasmigrate.ErrNoPendingFiles):
		pending = nil
	case err != nil:
		return nil, explainPending(err, opts.Baseline, dir)
	}
	if opts.Baseline != "" && len(before) > 0 {
		out.printf("Note: --baseline %s ignored: the database already has a migration history.\n", opts.Baseline)
	}
	rep.Pending = len(pending)
	return selectPending(dir, pending, before, opts.N, opts.To)
}

func noPending(ctx context.Context, revs *RevisionTable, rep *ApplyReport, out *output, start time.Time) error {
	after, err := revs.ReadRevisions(ctx)
	if err != nil {
		return err
	}
	rep.To = currentVersion(after)
	rep.Duration = time.Since(start)
	if rep.To == "" {
		out.println("No migration files to apply.")
	} else {
		out.printf("No pending migrations: the database is at version %s.\n", rep.To)
	}
	return nil
}

// FromNone is the --from value of a database with no migration applied.
const FromNone = "none"

// offlineDryRun prints the SQL of the files after version opts.From (all
// of them for FromNone), as `alembic upgrade FROM:head --sql` does, with no
// database: the checks that read the database (rows holding a removed enum
// value) are not made.
func offlineDryRun(dir atlasmigrate.Dir, opts ApplyOptions, out *output, start time.Time) (*ApplyReport, error) {
	pending, from, err := filesAfter(dir, opts)
	if err != nil {
		return nil, err
	}
	rep := &ApplyReport{DryRun: true, From: from, Pending: len(pending)}
	if len(pending) == 0 {
		out.printf("-- Dry run (offline): nothing after version %s.\n", opts.From)
		return rep, nil
	}
	out.printf("-- Dry run (offline, no database): from %s; checks that read the database are not made.\n", orNone(rep.From))
	return dryRun(context.Background(), &postgres.Driver{}, nil, pending, rep, out, start)
}

func orNone(v string) string {
	if v == "" {
		return "an empty history"
	}
	return v
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}

// selectPending trims pending to the first n files, or to the files up to
// and including version to.
func selectPending(dir atlasmigrate.Dir, pending []atlasmigrate.File, revs []*atlasmigrate.Revision, n int, to string) ([]atlasmigrate.File, error) {
	if n < 0 {
		return nil, fmt.Errorf("the number of files to apply must be positive, got %d", n)
	}
	if to != "" {
		idx := slices.IndexFunc(pending, func(f atlasmigrate.File) bool { return f.Version() == to })
		if idx >= 0 {
			pending = pending[:idx+1]
		} else {
			files, err := dir.Files()
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(files, func(f atlasmigrate.File) bool { return f.Version() == to }) {
				return nil, fmt.Errorf("--to %s: no migration file has this version; `accounts migrate status` lists them", to)
			}
			if slices.ContainsFunc(revs, func(r *atlasmigrate.Revision) bool { return r.Version == to }) {
				return nil, nil // already applied
			}
			// The version exists but is behind a pending file; nothing
			// earlier than it is pending.
			pending = slices.DeleteFunc(slices.Clone(pending), func(f atlasmigrate.File) bool { return f.Version() > to })
		}
	}
	if n > 0 && n < len(pending) {
		pending = pending[:n]
	}
	return pending, nil
}

// explainPending turns the executor's refusals into errors that say what to
// do with dir's files.
func explainPending(err error, baseline string, dir atlasmigrate.Dir) error {
	var (
		notClean  *atlasmigrate.NotCleanError
		nonLinear *atlasmigrate.HistoryNonLinearError
		missing   *atlasmigrate.MissingMigrationError
	)
	switch {
	case errors.As(err, &notClean):
		return fmt.Errorf("the database is not empty (%s) but has no migration history; "+
			"if its schema already matches a migration, run `accounts migrate apply --baseline VERSION` "+
			"with that migration's version, or migrate an empty database", notClean.Reason)
	case errors.As(err, &nonLinear):
		return fmt.Errorf("migration file(s) older than the latest applied version were never applied "+
			"(added out of order: a merge, or a hand-written file with an old version); "+
			"rename each to a version after the applied history, keeping its name (%s), then run `accounts migrate hash`; "+
			"a generated file whose change a newer file already makes: delete it instead, then hash",
			strings.Join(renamesAfterHead(dir, nonLinear.OutOfOrder), "; "))
	case errors.As(err, &missing):
		return fmt.Errorf("revision %s (%s) is partially applied but its file is missing from the migration directory; restore the file", missing.Version, missing.Description)
	case baseline != "" && strings.Contains(err.Error(), "baseline version"):
		return fmt.Errorf("--baseline %s: no migration file has this version; `accounts migrate status` lists them", baseline)
	}
	if err2 := explainChecksum(errors.Unwrap(err)); err2 != nil && err2 != errors.Unwrap(err) {
		return err2
	}
	return err
}

// renamesAfterHead says, for each out-of-order file, the name that puts it
// after every file of dir: "OLD → NEW", consecutive versions from now.
func renamesAfterHead(dir atlasmigrate.Dir, files []atlasmigrate.File) []string {
	out := make([]string, len(files))
	v, err := nextVersion(dir, time.Now())
	t, perr := time.Parse(versionLayout, v)
	for i, f := range files {
		out[i] = f.Name()
		if err == nil && perr == nil {
			out[i] += " → " + t.Add(time.Duration(i)*time.Second).Format(versionLayout) + "_" + f.Desc() + ".sql"
		}
	}
	return out
}

// currentVersion is the version of the newest revision that is fully
// applied, or a baseline.
func currentVersion(revs []*atlasmigrate.Revision) string {
	for i := len(revs) - 1; i >= 0; i-- {
		r := revs[i]
		if r.Type.Has(atlasmigrate.RevisionTypeBaseline) || (r.Applied == r.Total && r.Error == "") {
			return r.Version
		}
	}
	return ""
}

func dryRun(ctx context.Context, drv atlasmigrate.Driver, revs *RevisionTable, pending []atlasmigrate.File, rep *ApplyReport, out *output, start time.Time) (*ApplyReport, error) {
	out.printf("-- Dry run: %d file(s) pending; nothing is executed.\n", len(pending))
	refused := ""
	for i, f := range pending {
		res, err := dryRunFile(ctx, drv, revs, f, out)
		if err != nil {
			return nil, err
		}
		if res == nil {
			refused = f.Name()
			if n := len(pending) - i - 1; n > 0 {
				out.printf("-- (apply stops at the refusal: the %d file(s) after it would not run either)\n", n)
			}
			break
		}
		rep.Files = append(rep.Files, *res)
	}
	if len(rep.Files) > 0 {
		rep.To = rep.Files[len(rep.Files)-1].Version
	}
	rep.Duration = time.Since(start)
	if refused != "" {
		out.printf("\n-- Dry run done: apply would refuse %s; %d file(s), %d statement(s) before it would be applied.\n", refused, len(rep.Files), rep.Statements())
		return rep, nil
	}
	out.printf("\n-- Dry run done: %d file(s), %d statement(s) would be applied.\n", len(rep.Files), rep.Statements())
	return rep, nil
}

// dryRunFile prints what apply would run of f; a nil result means apply
// would refuse the file (the refusal and its statements are printed as
// comments).
func dryRunFile(ctx context.Context, drv atlasmigrate.Driver, revs *RevisionTable, f atlasmigrate.File, out *output) (*FileResult, error) {
	stmts, err := atlasmigrate.FileStmtDecls(drv, f)
	if err != nil {
		return nil, fmt.Errorf("read statements of %s: %w", f.Name(), err)
	}
	mode, err := fileTxMode(f, TxModeFile)
	if err != nil {
		return nil, err
	}
	res := &FileResult{Name: f.Name(), Version: f.Version(), Statements: len(stmts)}
	if revs == nil {
		// Offline: nothing to resume, nothing to check.
		out.printf("\n-- %s (%d statement(s), txmode %s)\n", f.Name(), len(stmts), mode)
		for _, s := range stmts {
			res.SQL = append(res.SQL, s.Text)
			out.println(s.Text)
		}
		return res, nil
	}
	if r, err := revs.ReadRevision(ctx, f.Version()); err == nil && r.Applied > 0 && r.Applied < len(stmts) {
		res.Skipped = r.Applied
	}
	out.printf("\n-- %s (%d statement(s), txmode %s", f.Name(), len(stmts), mode)
	if res.Skipped > 0 {
		out.printf(", resuming after statement %d", res.Skipped)
	}
	out.println(")")
	if err := guardEnumValueDrops(ctx, revs.conn, f.Name(), stmts[res.Skipped:]); err != nil {
		// Judged on the database as it is now, before earlier pending files.
		out.printf("-- apply would refuse this file: %v\n", err)
		for _, s := range stmts[res.Skipped:] {
			out.printf("-- %s\n", strings.ReplaceAll(s.Text, "\n", "\n-- "))
		}
		return nil, nil
	}
	for _, s := range stmts[res.Skipped:] {
		res.SQL = append(res.SQL, s.Text)
		out.println(s.Text)
	}
	return res, nil
}

// modesNote says how the pending files run: the global mode, and the files
// whose `-- atlas:txmode` directive overrides it.
func modesNote(pending []atlasmigrate.File, global TxMode) (string, error) {
	var except []string
	for _, f := range pending {
		m, err := fileTxMode(f, global)
		if err != nil {
			return "", err
		}
		if m != global {
			except = append(except, fmt.Sprintf("%s (txmode %s)", f.Name(), m))
		}
	}
	note := "tx-mode " + string(global)
	if len(except) > 0 {
		note += ", except " + strings.Join(except, ", ")
	}
	return note, nil
}

// applyRun executes pending files with the chosen transaction mode.
type applyRun struct {
	ctx  context.Context
	conn *sql.Conn
	dir  atlasmigrate.Dir
	revs *RevisionTable
	opts ApplyOptions
	mode TxMode
	out  *output

	tx    *sql.Tx // the open transaction of tx-mode all
	txDrv atlasmigrate.Driver
}

func (a *applyRun) files(pending []atlasmigrate.File, rep *ApplyReport) error {
	for _, f := range pending {
		mode, err := fileTxMode(f, a.mode)
		if err != nil {
			return err
		}
		res, err := a.fileRetryingLocks(f, mode)
		rep.Files = append(rep.Files, res)
		a.printFile(res)
		if err != nil {
			if a.tx != nil {
				// tx-mode all: everything this run did is gone.
				for i := range rep.Files {
					rep.Files[i].RolledBack = true
				}
				if n := len(rep.Files) - 1; n > 0 {
					a.out.printf("  (tx-mode all: the %d file(s) applied before it in this run were rolled back too)\n", n)
				}
				a.tx = nil
			}
			return err
		}
	}
	if a.tx != nil {
		if err := a.tx.Commit(); err != nil {
			return fmt.Errorf("commit the migration transaction: %w", err)
		}
		a.tx = nil
	}
	return nil
}

func (a *applyRun) printFile(r FileResult) {
	switch {
	case r.Err != nil:
		var se *StatementError
		if errors.As(r.Err, &se) {
			a.out.printf("  FAILED %s at statement %d of %d after %s\n    statement: %s\n    error: %v\n",
				r.Name, se.Index, se.Total, round(r.Duration), oneLine(se.Stmt), dbErrorText(se.Err))
		} else {
			a.out.printf("  FAILED %s after %s: %v\n", r.Name, round(r.Duration), r.Err)
		}
	case r.Skipped > 0:
		a.out.printf("  applied %s: %d statement(s) (resumed after %d) in %s\n", r.Name, r.Executed, r.Skipped, round(r.Duration))
	default:
		a.out.printf("  applied %s: %d statement(s) in %s\n", r.Name, r.Executed, round(r.Duration))
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// fileTxMode honours a file's `-- atlas:txmode` directive as the Atlas CLI does.
func fileTxMode(f atlasmigrate.File, global TxMode) (TxMode, error) {
	lf, ok := f.(*atlasmigrate.LocalFile)
	if !ok {
		return global, nil
	}
	ds := lf.Directive("txmode")
	switch {
	case len(ds) == 0:
		return global, nil
	case len(ds) > 1:
		return "", fmt.Errorf("%s: more than one atlas:txmode directive (%q)", f.Name(), ds)
	}
	switch m := TxMode(ds[0]); {
	case m == TxModeAll:
		return "", fmt.Errorf("%s: txmode %q is not allowed in a file directive; use %q", f.Name(), TxModeAll, TxModeFile)
	case m != TxModeNone && m != TxModeFile:
		return "", fmt.Errorf("%s: unknown atlas:txmode %q (use file or none)", f.Name(), m)
	case m == global:
		return global, nil
	case global == TxModeAll:
		return "", fmt.Errorf("%s: its atlas:txmode %s directive cannot be honoured with --tx-mode all", f.Name(), m)
	default:
		return m, nil
	}
}

// file applies one file in the given mode.
func (a *applyRun) file(f atlasmigrate.File, mode TxMode) (res FileResult, err error) {
	start := time.Now()
	res = FileResult{Name: f.Name(), Version: f.Version()}
	defer func() {
		res.Duration = time.Since(start)
		res.Err = err
	}()
	fx, err := a.begin(mode)
	if err != nil {
		return res, err
	}
	stmts, rt, err := a.prepare(fx, f, &res)
	if err != nil {
		fx.rollback()
		return res, err
	}
	capture := &capturingRevisions{RevisionReadWriter: rt, skipErrors: fx.tx != nil, start: start}
	ex, err := atlasmigrate.NewExecutor(fx.drv, a.dir, capture, atlasmigrate.WithOperatorVersion(a.opts.Operator))
	if err != nil {
		fx.rollback()
		return res, err
	}
	execErr := ex.Execute(a.ctx, f)
	if capture.last != nil {
		res.Executed = capture.last.Applied - res.Skipped
		if capture.last.Applied == capture.last.Total && execErr == nil {
			res.Executed = capture.last.Total - res.Skipped
		}
	}
	for _, s := range stmts[min(res.Skipped, len(stmts)):] {
		res.SQL = append(res.SQL, s.Text)
	}
	if execErr == nil {
		if mode == TxModeFile {
			if err := fx.tx.Commit(); err != nil {
				return res, fmt.Errorf("commit %s: %w", f.Name(), err)
			}
		}
		return res, nil
	}
	return res, a.failed(fx, f, stmts, capture, execErr, &res, start)
}

// fileTx is where one file runs: its transaction (nil in tx-mode none),
// what executes statements, and the migration driver over it.
type fileTx struct {
	a    *applyRun
	mode TxMode
	tx   *sql.Tx
	q    execQuerier
	drv  atlasmigrate.Driver
}

// rollback ends the file's transaction; with tx-mode all it ends the run's.
func (fx *fileTx) rollback() {
	if fx.tx != nil {
		_ = fx.tx.Rollback()
	}
	if fx.mode == TxModeAll {
		fx.a.tx = nil
	}
}

// begin opens the transaction the file runs in: its own (tx-mode file),
// the run's (all, opened by its first file) or none.
func (a *applyRun) begin(mode TxMode) (*fileTx, error) {
	fx := &fileTx{a: a, mode: mode, q: a.conn}
	var err error
	switch mode {
	case TxModeFile:
		if fx.tx, err = a.conn.BeginTx(a.ctx, nil); err != nil {
			return nil, fmt.Errorf("begin the file's transaction: %w", err)
		}
		fx.q = fx.tx
	case TxModeAll:
		if a.tx == nil {
			if a.tx, err = a.conn.BeginTx(a.ctx, nil); err != nil {
				return nil, fmt.Errorf("begin the migration transaction: %w", err)
			}
			if a.txDrv, err = postgres.Open(stmtRunner{a.tx, a.out}); err != nil {
				_ = a.tx.Rollback()
				a.tx = nil
				return nil, err
			}
		}
		fx.tx, fx.q, fx.drv = a.tx, a.tx, a.txDrv
	}
	if fx.drv == nil {
		if fx.drv, err = postgres.Open(stmtRunner{fx.q, a.out}); err != nil {
			fx.rollback()
			return nil, fmt.Errorf("open the database for migration: %w", err)
		}
	}
	return fx, nil
}

// prepare reads the file's statements and its revision (a failed,
// rolled-back attempt starts afresh; a partial one resumes) and refuses an
// enum conversion that rows would make fail.
func (a *applyRun) prepare(fx *fileTx, f atlasmigrate.File, res *FileResult) ([]*atlasmigrate.Stmt, *RevisionTable, error) {
	stmts, err := atlasmigrate.FileStmtDecls(fx.drv, f)
	if err != nil {
		return nil, nil, fmt.Errorf("read statements of %s: %w", f.Name(), err)
	}
	res.Statements = len(stmts)
	rt := NewRevisionTable(fx.q, a.revs.schema)
	prev, err := rt.ReadRevision(a.ctx, f.Version())
	switch {
	case errors.Is(err, atlasmigrate.ErrRevisionNotExist):
		prev = nil
	case err != nil:
		return nil, nil, err
	}
	if prev != nil && prev.Applied == 0 && fx.tx != nil {
		// Nothing of the file is in the database. Start afresh so the row
		// gets the (possibly fixed) file's hash and statement count.
		if err := rt.DeleteRevision(a.ctx, f.Version()); err != nil {
			return nil, nil, err
		}
	}
	if prev != nil && prev.Applied > 0 {
		res.Skipped = prev.Applied
	}
	if err := guardEnumValueDrops(a.ctx, fx.q, f.Name(), stmts[min(res.Skipped, len(stmts)):]); err != nil {
		return nil, nil, err
	}
	return stmts, rt, nil
}

// failed turns the executor's error into the file's error, rolling back
// its transaction and recording the failure outside it.
func (a *applyRun) failed(fx *fileTx, f atlasmigrate.File, stmts []*atlasmigrate.Stmt, capture *capturingRevisions, execErr error, res *FileResult, start time.Time) error {
	var stmtErr *atlasmigrate.StmtExecError
	if !errors.As(execErr, &stmtErr) {
		fx.rollback()
		var hc atlasmigrate.HistoryChangedError
		if errors.As(execErr, &hc) {
			return fmt.Errorf("%s was partially applied before and its statement %d has changed since; "+
				"restore the applied statements (only the rest may change)", hc.File, hc.Stmt)
		}
		return fmt.Errorf("apply %s: %w", f.Name(), execErr)
	}
	se := &StatementError{File: f.Name(), Total: len(stmts), Stmt: stmtErr.Stmt.Text, Err: stmtErr.Err}
	if capture.last != nil {
		se.Index = capture.last.Applied + 1
		se.Kept = capture.last.Applied
	}
	if fx.tx == nil {
		// No transaction: the executor recorded the partial progress and
		// the error itself, as the Atlas CLI does.
		return se
	}
	fx.rollback()
	se.RolledBack, se.Kept = true, 0
	res.RolledBack, res.Executed = true, 0
	rev := &atlasmigrate.Revision{Version: f.Version(), Description: f.Desc(), Type: atlasmigrate.RevisionTypeExecute, Total: len(stmts)}
	if capture.last != nil {
		c := *capture.last
		rev = &c
	}
	rev.Applied, rev.PartialHashes = 0, nil
	rev.Error, rev.ErrorStmt = dbErrorText(stmtErr.Err), stmtErr.Stmt.Text
	rev.ExecutedAt, rev.ExecutionTime = start, time.Since(start)
	rev.OperatorVersion = a.opts.Operator
	if err := a.revs.WriteRevision(context.WithoutCancel(a.ctx), rev); err != nil {
		return errors.Join(se, fmt.Errorf("record the failure in the revision table: %w", err))
	}
	return se
}

// capturingRevisions remembers the last revision the executor wrote. Inside
// a transaction it does not write failed revisions (the transaction is
// aborted by then and is about to be rolled back); the caller records them.
//
// It also records the whole time spent on the file as execution_time: the
// library measures only the time since its previous write (the last
// statement), while executed_at keeps the time the file started.
type capturingRevisions struct {
	atlasmigrate.RevisionReadWriter
	skipErrors bool
	start      time.Time
	last       *atlasmigrate.Revision
}

func (c *capturingRevisions) WriteRevision(ctx context.Context, r *atlasmigrate.Revision) error {
	cp := *r
	cp.PartialHashes = slices.Clone(r.PartialHashes)
	if !c.start.IsZero() {
		cp.ExecutionTime = time.Since(c.start)
	}
	c.last = &cp
	if c.skipErrors && r.Error != "" {
		return nil
	}
	return c.RevisionReadWriter.WriteRevision(ctx, &cp)
}

// readOnlyRevisions reads revisions but never writes them (dry runs).
type readOnlyRevisions struct{ *RevisionTable }

func (readOnlyRevisions) WriteRevision(context.Context, *atlasmigrate.Revision) error { return nil }
func (readOnlyRevisions) DeleteRevision(context.Context, string) error                { return nil }
