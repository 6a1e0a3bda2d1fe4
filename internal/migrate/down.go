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
	"ariga.io/atlas/sql/schema"
)

// DownOptions tunes Down.
type DownOptions struct {
	// N reverts the last N applied files; 1 when zero.
	N int
	// To reverts every file applied after this version.
	To string
	// DryRun prints the computed SQL and changes nothing.
	DryRun bool
	// Force drops tables and columns that hold rows.
	Force bool
	// Dev says where the dev database comes from; when empty, a throw-away
	// database is created on the target database's server.
	Dev DevDatabase
	// RevisionSchema holds the revision table; RevisionSchema when empty.
	RevisionSchema string
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// LockTimeout bounds the wait for the migration lock; 0 waits as long
	// as ctx allows.
	LockTimeout time.Duration
}

// DownReport says what Down did (or, on a dry run, would do).
type DownReport struct {
	From     string   // version before
	To       string   // version after ("" for an empty history)
	Reverted []string // versions whose revisions were removed, newest first
	SQL      []string // statements run (or that would run)
	DryRun   bool
	Duration time.Duration
}

// DataLossError is returned when reverting would drop data and Force is off.
type DataLossError struct {
	Losses []string // one line per table, column or enum value
	Forced bool     // true when even Force cannot help (enum values in use)
	SQL    []string // the statements the revert would run
}

func (e *DataLossError) Error() string {
	var b strings.Builder
	b.WriteString("refusing to revert: it would lose data:\n")
	for _, l := range e.Losses {
		b.WriteString("  - " + l + "\n")
	}
	if e.Forced {
		b.WriteString("update or delete those rows first, then run down again")
	} else {
		b.WriteString("back the data up if you need it, then run again with --force")
	}
	return b.String()
}

// Down reverts the last applied migration files (`migrate down`). Atlas
// stores no down files; it computes them, and so does Down, from the
// directory alone: on a dev database it replays dir up to the target
// version, then the reverted files, and plans the difference back. The
// live database must hold what the reverted files made for every object
// that plan touches (a *DriftError names what differs); objects that exist
// only in the live database are never touched. The plan runs in one
// transaction under the migration lock, with the reverted revision rows
// deleted in it, or statement by statement with the online (CONCURRENTLY)
// forms where the reverted files used them. Enum values that the reverted
// files renamed are renamed back, keeping the rows.
func Down(ctx context.Context, db *sql.DB, dir atlasmigrate.Dir, opts DownOptions) (rep *DownReport, err error) {
	start := time.Now()
	out := newOutput(opts.Out)
	defer func() { err = errors.Join(err, out.err) }()
	if opts.N < 0 {
		return nil, fmt.Errorf("the number of files to revert must be positive, got %d", opts.N)
	}
	if opts.N == 0 {
		opts.N = 1
	}
	conn, closeSession, err := session(ctx, db, dir, opts.DryRun, opts.LockTimeout, out)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeSession()) }()
	revs, err := NewRevisionTable(conn, opts.RevisionSchema).ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	rep = &DownReport{DryRun: opts.DryRun, From: currentVersion(revs)}
	revert, target, err := selectRevert(revs, opts)
	if err != nil || len(revert) == 0 {
		if err == nil {
			out.printf("Nothing to revert: the database is at version %s.\n", target)
			rep.To = target
		}
		return rep, err
	}
	reverted, err := revertedFiles(dir, revert, target)
	if err != nil {
		return nil, err
	}
	dev, err := openDev(ctx, opts.Dev, db)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, dev.close()) }()
	for i := len(revert) - 1; i >= 0; i-- {
		rep.Reverted = append(rep.Reverted, revert[i].Version)
	}
	rep.To = target
	plan, err := planDown(ctx, downInput{conn: conn, dev: dev, dir: dir, target: target, reverted: reverted, force: opts.Force})
	if err != nil {
		var dl *DataLossError
		if opts.DryRun && errors.As(err, &dl) {
			printDownRefusal(out, rep, dl)
		}
		return nil, err
	}
	rep.SQL = plan.stmts
	if opts.DryRun {
		printDownDryRun(out, rep, plan)
		rep.Duration = time.Since(start)
		return rep, nil
	}
	for _, l := range plan.losses {
		out.printf("--force: dropping %s\n", l)
	}
	if err := runRevert(ctx, conn, plan, rep.Reverted, opts.RevisionSchema); err != nil {
		return nil, err
	}
	rep.Duration = time.Since(start)
	for _, v := range rep.Reverted {
		out.printf("  reverted %s\n", v)
	}
	if len(rep.SQL) == 0 {
		out.println("  (no schema change: those files changed no schema; data they wrote is not reverted)")
	}
	out.printf("Reverted %d file(s) with %d statement(s) in %s; the database is at %s.\n",
		len(rep.Reverted), len(rep.SQL), round(rep.Duration), versionOrEmpty(target))
	return rep, nil
}

// selectRevert picks the revisions to revert (oldest first) and the version
// the database is at afterwards. No revisions and no error means the
// database already is at --to.
func selectRevert(revs []*atlasmigrate.Revision, opts DownOptions) (revert []*atlasmigrate.Revision, target string, err error) {
	if len(revs) == 0 {
		return nil, "", errors.New("nothing to revert: the database has no applied migrations")
	}
	if opts.To != "" {
		idx := slices.IndexFunc(revs, func(r *atlasmigrate.Revision) bool { return r.Version == opts.To })
		if idx < 0 {
			return nil, "", fmt.Errorf("--to %s: that version is not applied to this database; `accounts migrate history` lists the applied ones", opts.To)
		}
		revert, target = revs[idx+1:], opts.To
	} else {
		if opts.N > len(revs) {
			return nil, "", fmt.Errorf("cannot revert %d files: only %d are applied", opts.N, len(revs))
		}
		revert = revs[len(revs)-opts.N:]
		if len(revs) > opts.N {
			target = revs[len(revs)-opts.N-1].Version
		}
	}
	for _, r := range revert {
		switch {
		case r.Type.Has(atlasmigrate.RevisionTypeBaseline):
			return nil, "", fmt.Errorf("cannot revert past baseline %s: the schema before it is not described by the migration directory", r.Version)
		case r.Applied > 0 && (r.Applied < r.Total || r.Error != ""):
			return nil, "", fmt.Errorf("cannot revert %s: it is partially applied (%d of %d statements); finish it with `accounts migrate apply` (or fix it by hand) first",
				r.Version, r.Applied, r.Total)
		}
	}
	return revert, target, nil
}

// revertedFiles returns the files of the revisions in revert that made a
// change (a file that failed and was rolled back made none), checking that
// the directory describes the target version and every reverted one.
func revertedFiles(dir atlasmigrate.Dir, revert []*atlasmigrate.Revision, target string) ([]atlasmigrate.File, error) {
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	has := func(v string) bool {
		return slices.ContainsFunc(files, func(f atlasmigrate.File) bool { return f.Version() == v })
	}
	if target != "" && !has(target) {
		return nil, fmt.Errorf("cannot compute the schema of version %s: its file is not in the migration directory", target)
	}
	var out []atlasmigrate.File
	for _, r := range revert {
		if !has(r.Version) {
			return nil, fmt.Errorf("cannot revert %s: its file is not in the migration directory, so what it made is unknown", r.Version)
		}
		if r.Applied == 0 && r.Error != "" {
			continue
		}
		i := slices.IndexFunc(files, func(f atlasmigrate.File) bool { return f.Version() == r.Version })
		out = append(out, files[i])
	}
	return out, nil
}

func printDownDryRun(out *output, rep *DownReport, plan *downPlan) {
	out.printf("-- Dry run: reverting %s would run %d statement(s)%s; nothing is executed.\n",
		strings.Join(rep.Reverted, ", "), len(rep.SQL), plan.modeNote())
	for _, l := range plan.losses {
		out.printf("-- with --force, data would be lost: %s\n", l)
	}
	for _, s := range rep.SQL {
		out.printf("%s;\n", s)
	}
	out.printf("-- and delete the revision rows of %s.\n", strings.Join(rep.Reverted, ", "))
}

func printDownRefusal(out *output, rep *DownReport, dl *DataLossError) {
	out.printf("-- Dry run: down would refuse to revert %s: it would lose data:\n", strings.Join(rep.Reverted, ", "))
	for _, l := range dl.Losses {
		out.printf("--   %s\n", l)
	}
	if dl.Forced {
		out.println("-- (not even --force can run it) The statements it would run:")
	} else {
		out.println("-- With --force it would run:")
	}
	for _, s := range dl.SQL {
		out.printf("%s;\n", s)
	}
}

// runRevert runs the plan and deletes the reverted revision rows: all in
// one transaction, or, for an online plan, statement by statement (a
// CONCURRENTLY statement cannot run in a transaction) and then the rows.
func runRevert(ctx context.Context, conn *sql.Conn, plan *downPlan, reverted []string, revSchema string) error {
	if plan.online {
		for i, s := range plan.stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("revert failed at statement %d of %d (txmode none: the %d statement(s) before it stay, the revision rows are kept):\n  %s\n%w",
					i+1, len(plan.stmts), i, s, err)
			}
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if !plan.online {
		for i, s := range plan.stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("revert failed at statement %d of %d (rolled back, nothing changed):\n  %s\n%w", i+1, len(plan.stmts), s, err)
			}
		}
	}
	txRevs := NewRevisionTable(tx, revSchema)
	for _, v := range reverted {
		if err := txRevs.DeleteRevision(ctx, v); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit the revert: %w", err)
	}
	return nil
}

func versionOrEmpty(v string) string {
	if v == "" {
		return "no version (empty history)"
	}
	return "version " + v
}

// dataLoss lists what the changes would destroy: tables and columns that
// hold rows (allowed with --force), and enum values still in use (never
// allowed: the conversion would fail).
func dataLoss(ctx context.Context, q execQuerier, schemaName string, changes []schema.Change, enums []*enumChange) (losses, blocking []string, err error) {
	lc := lossCounter{ctx: ctx, q: q, schema: schemaName}
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.DropTable:
			losses, err = lc.droppedTable(losses, c.T.Name)
		case *schema.ModifyTable:
			losses, err = lc.droppedColumns(losses, c)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	gone := goneObjects(changes)
	for _, f := range enums {
		if blocking, err = lc.removedValuesInUse(blocking, f, gone); err != nil {
			return nil, nil, err
		}
	}
	return losses, blocking, nil
}

// lossCounter counts the rows a revert would destroy or could not convert.
type lossCounter struct {
	ctx    context.Context
	q      execQuerier
	schema string
}

func (lc lossCounter) qual(table string) string {
	return quoteIdent(lc.schema) + "." + quoteIdent(table)
}

func (lc lossCounter) count(query string, args ...any) (int64, error) {
	var n int64
	err := lc.q.QueryRowContext(lc.ctx, query, args...).Scan(&n)
	return n, err
}

// droppedTable adds the table to losses when it holds rows.
func (lc lossCounter) droppedTable(losses []string, table string) ([]string, error) {
	n, err := lc.count("SELECT count(*) FROM " + lc.qual(table))
	if err != nil {
		return nil, fmt.Errorf("count rows of %s: %w", table, err)
	}
	if n > 0 {
		losses = append(losses, fmt.Sprintf("table %s with %d row(s)", table, n))
	}
	return losses, nil
}

// droppedColumns adds each column c drops to losses when it holds a value.
func (lc lossCounter) droppedColumns(losses []string, c *schema.ModifyTable) ([]string, error) {
	for _, tc := range c.Changes {
		dc, ok := tc.(*schema.DropColumn)
		if !ok {
			continue
		}
		n, err := lc.count("SELECT count(*) FROM " + lc.qual(c.T.Name) + " WHERE " + quoteIdent(dc.C.Name) + " IS NOT NULL")
		if err != nil {
			return nil, fmt.Errorf("count values of %s.%s: %w", c.T.Name, dc.C.Name, err)
		}
		if n > 0 {
			losses = append(losses, fmt.Sprintf("column %s.%s with %d non-null value(s)", c.T.Name, dc.C.Name, n))
		}
	}
	return losses, nil
}

// goneObjects are the tables ("t") and columns ("t.c") the changes drop:
// their rows need no conversion.
func goneObjects(changes []schema.Change) map[string]bool {
	gone := make(map[string]bool)
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.DropTable:
			gone[c.T.Name] = true
		case *schema.ModifyTable:
			for _, tc := range c.Changes {
				if dc, ok := tc.(*schema.DropColumn); ok {
					gone[c.T.Name+"."+dc.C.Name] = true
				}
			}
		}
	}
	return gone
}

// removedValuesInUse adds to blocking each column of the enum type f
// changes, except those gone, that holds one of the values f removes.
func (lc lossCounter) removedValuesInUse(blocking []string, f *enumChange, gone map[string]bool) ([]string, error) {
	if len(f.Removed) == 0 {
		return blocking, nil
	}
	for _, t := range f.From.Schema.Tables {
		for _, c := range t.Columns {
			et, ok := c.Type.Type.(*schema.EnumType)
			if !ok || et.T != f.From.T || gone[t.Name] || gone[t.Name+"."+c.Name] {
				continue
			}
			n, err := lc.count("SELECT count(*) FROM "+lc.qual(t.Name)+" WHERE "+quoteIdent(c.Name)+"::text = ANY($1)", f.Removed)
			if err != nil {
				return nil, fmt.Errorf("count uses of enum %s in %s.%s: %w", f.From.T, t.Name, c.Name, err)
			}
			if n > 0 {
				blocking = append(blocking, fmt.Sprintf("%d row(s) of %s.%s hold value(s) %s of enum %s, which the target version does not have",
					n, t.Name, c.Name, strings.Join(f.Removed, ", "), f.From.T))
			}
		}
	}
	return blocking, nil
}

// DriftError is returned by Down when objects the revert would change
// differ in the live database from what the migration files made.
type DriftError struct {
	Objects []string // one line per object
}

func (e *DriftError) Error() string {
	return "refusing to revert: objects it would change differ from what the migration files made:\n  - " +
		strings.Join(e.Objects, "\n  - ") +
		"\nrestore them to the files' definition (or revert by hand), then run down again"
}
