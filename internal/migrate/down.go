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
// stores no down files; it computes them, and so does Down: it replays dir
// up to the target version on a dev database, diffs the live schema against
// that, plans the change, applies it in one transaction under the migration
// lock, and deletes the reverted revision rows. Enum values that the
// reverted files renamed are renamed back, keeping the rows.
func Down(ctx context.Context, db *sql.DB, dir atlasmigrate.Dir, opts DownOptions) (rep *DownReport, err error) {
	start := time.Now()
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
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
	revTable := NewRevisionTable(conn, opts.RevisionSchema)
	revs, err := revTable.ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	rep = &DownReport{DryRun: opts.DryRun, From: currentVersion(revs)}
	if len(revs) == 0 {
		return nil, errors.New("nothing to revert: the database has no applied migrations")
	}
	var revert []*atlasmigrate.Revision
	target := ""
	if opts.To != "" {
		idx := slices.IndexFunc(revs, func(r *atlasmigrate.Revision) bool { return r.Version == opts.To })
		if idx < 0 {
			return nil, fmt.Errorf("--to %s: that version is not applied to this database; `accounts migrate history` lists the applied ones", opts.To)
		}
		revert, target = revs[idx+1:], opts.To
		if len(revert) == 0 {
			fmt.Fprintf(out, "Nothing to revert: the database is at version %s.\n", opts.To)
			rep.To = opts.To
			return rep, nil
		}
	} else {
		if opts.N > len(revs) {
			return nil, fmt.Errorf("cannot revert %d files: only %d are applied", opts.N, len(revs))
		}
		revert = revs[len(revs)-opts.N:]
		if len(revs) > opts.N {
			target = revs[len(revs)-opts.N-1].Version
		}
	}
	for _, r := range revert {
		if r.Type.Has(atlasmigrate.RevisionTypeBaseline) {
			return nil, fmt.Errorf("cannot revert past baseline %s: the schema before it is not described by the migration directory", r.Version)
		}
	}
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	if target != "" && !slices.ContainsFunc(files, func(f atlasmigrate.File) bool { return f.Version() == target }) {
		return nil, fmt.Errorf("cannot compute the schema of version %s: its file is not in the migration directory", target)
	}
	dev, err := openDev(ctx, opts.Dev, db)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, dev.close()) }()
	want := &schema.Schema{}
	if target != "" {
		if want, err = replay(ctx, dev, dir, target); err != nil {
			return nil, err
		}
	}
	var reverted []atlasmigrate.File
	for _, f := range files {
		if slices.ContainsFunc(revert, func(r *atlasmigrate.Revision) bool { return r.Version == f.Version() }) {
			reverted = append(reverted, f)
		}
	}
	var losses []string
	if rep.SQL, losses, err = planRevert(ctx, conn, want, target, reverted, opts.Force); err != nil {
		return nil, err
	}
	for i := len(revert) - 1; i >= 0; i-- {
		rep.Reverted = append(rep.Reverted, revert[i].Version)
	}
	rep.To = target
	if opts.DryRun {
		fmt.Fprintf(out, "-- Dry run: reverting %s would run %d statement(s); nothing is executed.\n", strings.Join(rep.Reverted, ", "), len(rep.SQL))
		for _, l := range losses {
			fmt.Fprintf(out, "-- with --force, data would be lost: %s\n", l)
		}
		for _, s := range rep.SQL {
			fmt.Fprintf(out, "%s;\n", s)
		}
		fmt.Fprintf(out, "-- and delete the revision rows of %s.\n", strings.Join(rep.Reverted, ", "))
		rep.Duration = time.Since(start)
		return rep, nil
	}
	for _, l := range losses {
		fmt.Fprintf(out, "--force: dropping %s\n", l)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	for i, s := range rep.SQL {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("revert failed at statement %d of %d (rolled back, nothing changed):\n  %s\n%w", i+1, len(rep.SQL), s, err)
		}
	}
	txRevs := NewRevisionTable(tx, opts.RevisionSchema)
	for _, v := range rep.Reverted {
		if err := txRevs.DeleteRevision(ctx, v); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit the revert: %w", err)
	}
	rep.Duration = time.Since(start)
	for _, v := range rep.Reverted {
		fmt.Fprintf(out, "  reverted %s\n", v)
	}
	if len(rep.SQL) == 0 {
		fmt.Fprintln(out, "  (no schema change: those files changed no schema; data they wrote is not reverted)")
	}
	fmt.Fprintf(out, "Reverted %d file(s) with %d statement(s) in %s; the database is at %s.\n",
		len(rep.Reverted), len(rep.SQL), round(rep.Duration), versionOrEmpty(target))
	return rep, nil
}

// planRevert plans the statements that take the database on conn to want
// (the schema of version target) and lists the data they would lose,
// refusing with a *DataLossError what Force cannot allow. Enum values that
// the reverted files renamed are renamed back.
func planRevert(ctx context.Context, conn *sql.Conn, want *schema.Schema, target string, reverted []atlasmigrate.File, force bool) (stmts, losses []string, err error) {
	drv, err := postgres.Open(conn)
	if err != nil {
		return nil, nil, err
	}
	have, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("inspect the database: %w", err)
	}
	liveSchema := have.Name
	have.Name, want.Name = "", ""
	changes, err := drv.SchemaDiff(have, want)
	if err != nil {
		return nil, nil, fmt.Errorf("compare the database with version %s: %w", orNone(target), err)
	}
	renames, err := revertedEnumRenames(drv, reverted)
	if err != nil {
		return nil, nil, err
	}
	changes, enums, err := planEnumChanges(changes, applicableRenames(changes, renames))
	if err != nil {
		return nil, nil, err
	}
	losses, blocking, err := dataLoss(ctx, conn, liveSchema, changes, enums)
	switch {
	case err != nil:
		return nil, nil, err
	case len(blocking) > 0:
		return nil, nil, &DataLossError{Losses: blocking, Forced: true}
	case len(losses) > 0 && !force:
		return nil, nil, &DataLossError{Losses: losses}
	case len(changes) == 0 && len(enums) == 0:
		return nil, losses, nil
	}
	plan, err := planWithEnums(ctx, drv, "down", changes, enums, want.Tables)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range plan.Changes {
		stmts = append(stmts, c.Cmd)
	}
	return stmts, losses, nil
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
	qual := func(t string) string { return quoteIdent(schemaName) + "." + quoteIdent(t) }
	count := func(query string, args ...any) (int64, error) {
		var n int64
		err := q.QueryRowContext(ctx, query, args...).Scan(&n)
		return n, err
	}
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.DropTable:
			n, err := count("SELECT count(*) FROM " + qual(c.T.Name))
			if err != nil {
				return nil, nil, fmt.Errorf("count rows of %s: %w", c.T.Name, err)
			}
			if n > 0 {
				losses = append(losses, fmt.Sprintf("table %s with %d row(s)", c.T.Name, n))
			}
		case *schema.ModifyTable:
			for _, tc := range c.Changes {
				dc, ok := tc.(*schema.DropColumn)
				if !ok {
					continue
				}
				n, err := count("SELECT count(*) FROM " + qual(c.T.Name) + " WHERE " + quoteIdent(dc.C.Name) + " IS NOT NULL")
				if err != nil {
					return nil, nil, fmt.Errorf("count values of %s.%s: %w", c.T.Name, dc.C.Name, err)
				}
				if n > 0 {
					losses = append(losses, fmt.Sprintf("column %s.%s with %d non-null value(s)", c.T.Name, dc.C.Name, n))
				}
			}
		}
	}
	// Rows in tables and columns that go away need no conversion.
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
	for _, f := range enums {
		if len(f.Removed) == 0 {
			continue
		}
		for _, t := range f.From.Schema.Tables {
			for _, c := range t.Columns {
				et, ok := c.Type.Type.(*schema.EnumType)
				if !ok || et.T != f.From.T || gone[t.Name] || gone[t.Name+"."+c.Name] {
					continue
				}
				n, err := count("SELECT count(*) FROM "+qual(t.Name)+" WHERE "+quoteIdent(c.Name)+"::text = ANY($1)", f.Removed)
				if err != nil {
					return nil, nil, fmt.Errorf("count uses of enum %s in %s.%s: %w", f.From.T, t.Name, c.Name, err)
				}
				if n > 0 {
					blocking = append(blocking, fmt.Sprintf("%d row(s) of %s.%s hold value(s) %s of enum %s, which the target version does not have",
						n, t.Name, c.Name, strings.Join(f.Removed, ", "), f.From.T))
				}
			}
		}
	}
	return losses, blocking, nil
}
