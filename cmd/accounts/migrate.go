package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/spf13/cobra"

	"accounts/internal/database"
	"accounts/internal/migrate"
	"accounts/migrations"
)

// migrateCommand is `accounts migrate`: the versioned-migration workflow,
// interchangeable with the Atlas CLI's (same directory, atlas.sum and
// revision table).
func (a *app) migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Versioned schema migrations: diff, apply, down, status, history, lint, check",
		Long: `Versioned schema migrations, compatible with the Atlas CLI.

The loop: edit ent/schema, go generate ./ent, accounts migrate diff NAME,
review and commit the new file with atlas.sum, accounts migrate apply.

The directory is migrations/ in the working directory when it exists (--dir
or migrate.dir), otherwise the copy embedded in the binary. diff, check,
lint and down replay it on a throw-away database created on the configured
server and dropped afterwards, unless --dev-url names an empty one.`,
	}
	cmd.AddCommand(
		a.migrateDiffCommand(),
		a.migrateApplyCommand(),
		a.migrateDownCommand(),
		a.migrateStatusCommand(),
		a.migrateDriftCommand(),
		a.migrateHistoryCommand(),
		a.migrateHashCommand(),
		a.migrateValidateCommand(),
		a.migrateNewCommand(),
		a.migrateLintCommand(),
		a.migrateCheckCommand(),
	)
	return cmd
}

// migrateFlags adds the flags every migrate subcommand takes; config.Load
// maps them onto migrate.dir and migrate.dev_url.
func migrateFlags(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().String("dir", "", "migration directory (migrate.dir, default migrations); the embedded copy is used when it does not exist")
	cmd.Flags().String("dev-url", "", "empty dev database for replaying migrations (migrate.dev_url); default: a throw-away database on the configured server")
	return cmd
}

// migrateDev returns where the dev database comes from.
func (a *app) migrateDev() migrate.DevDatabase {
	return migrate.DevDatabase{URL: a.cfg.Migrate.DevURL, ServerURL: a.cfg.Database.ConnString()}
}

// revisionSchema is where the revision table lives for the configured
// database, by the Atlas CLI's rule.
func (a *app) revisionSchema() string {
	return migrate.RevisionSchemaOf(a.cfg.Database.ConnString())
}

// writeDir opens the directory on disk for commands that write files.
func (a *app) writeDir(create bool) (*atlasmigrate.LocalDir, error) {
	return migrate.OpenLocalDir(a.cfg.Migrate.Dir, create)
}

// migrateRun is what a subcommand that reads the migration directory works
// with: where to print, the directory, and the database when it asked for
// one.
type migrateRun struct {
	out io.Writer
	dir atlasmigrate.Dir
	db  *database.DB
}

// withDir is the preamble of every subcommand that reads the directory: it
// opens the directory and says where it came from, opens the configured
// database when withDB is set (closed when fn returns), and runs fn.
func (a *app) withDir(cmd *cobra.Command, withDB bool, fn func(r migrateRun) error) error {
	r := migrateRun{out: cmd.OutOrStdout()}
	dir, origin, err := migrate.OpenDir(a.cfg.Migrate.Dir, migrations.FS)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "Migration directory: %s\n", origin)
	r.dir = dir
	if withDB {
		if r.db, err = database.Open(cmd.Context(), a.cfg.Database, a.log); err != nil {
			return err
		}
		defer r.db.Close()
	}
	return fn(r)
}

// countArg parses the optional [N] argument.
func countArg(args []string) (int, error) {
	if len(args) == 0 {
		return 0, nil
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("N must be a positive number of files, got %q", args[0])
	}
	return n, nil
}

func (a *app) migrateDiffCommand() *cobra.Command {
	var renameFlags, columnFlags, tableFlags []string
	cmd := migrateFlags(&cobra.Command{
		Use:   "diff NAME",
		Short: "Write a migration for the difference between migrations/ and the Ent schema (like alembic revision --autogenerate)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := migrate.DiffOptions{Name: args[0], Dev: a.migrateDev()}
			var err error
			if opts.EnumRenames, err = parseAll(renameFlags, migrate.ParseEnumRename); err != nil {
				return err
			}
			if opts.ColumnRenames, err = parseAll(columnFlags, migrate.ParseColumnRename); err != nil {
				return err
			}
			if opts.TableRenames, err = parseAll(tableFlags, migrate.ParseTableRename); err != nil {
				return err
			}
			dir, err := a.writeDir(true)
			if err != nil {
				return err
			}
			res, err := migrate.Diff(cmd.Context(), dir, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.NoChanges() {
				fmt.Fprintln(out, "No changes: migrations/ already matches the Ent schema; nothing written.")
				return nil
			}
			if len(res.Files) > 1 {
				fmt.Fprintf(out, "The change cannot apply in one transaction (an enum value added and used in it), so it is split into %d consecutive files.\n\n", len(res.Files))
			}
			for _, f := range res.Files {
				fmt.Fprintf(out, "Wrote %s/%s (%d statement(s)) and updated atlas.sum:\n\n%s\n", dir.Path(), f.Name, f.Statements, f.SQL)
			}
			for _, n := range res.Notes {
				fmt.Fprintf(out, "Note: %s.\n\n", advise(n, a.cli))
			}
			fmt.Fprintln(out, advise("Review it, then `accounts migrate lint --latest 1` and commit it with atlas.sum.", a.cli))
			return nil
		},
	})
	cmd.Flags().StringArrayVar(&renameFlags, "rename-enum-value", nil,
		"TYPE.OLD=NEW: a value of a native enum type was renamed in the Ent schema; write ALTER TYPE … RENAME VALUE (rows keep their value) instead of removing OLD and adding NEW (repeatable)")
	cmd.Flags().StringArrayVar(&columnFlags, "rename-column", nil,
		"TABLE.OLD=NEW: a column was renamed in the Ent schema; write ALTER TABLE … RENAME COLUMN (the data stays) instead of dropping OLD and adding NEW (repeatable)")
	cmd.Flags().StringArrayVar(&tableFlags, "rename-table", nil,
		"OLD=NEW: a table was renamed in the Ent schema; write ALTER TABLE … RENAME TO (the rows stay) instead of dropping OLD and creating NEW (repeatable)")
	return cmd
}

// parseAll parses each flag value with parse.
func parseAll[T any](values []string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, v := range values {
		r, err := parse(v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (a *app) migrateCheckCommand() *cobra.Command {
	return migrateFlags(&cobra.Command{
		Use:   "check",
		Short: "Exit 1, printing the would-be SQL, when the Ent schema has changes migrations/ lacks (like alembic check)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDir(cmd, false, func(r migrateRun) error {
				res, err := migrate.Check(cmd.Context(), r.dir, migrate.DiffOptions{Dev: a.migrateDev()})
				if err != nil {
					return err
				}
				if res.NoChanges() {
					fmt.Fprintln(r.out, "OK: migrations/ matches the Ent schema.")
					return nil
				}
				fmt.Fprintf(r.out, "The Ent schema has changes that migrations/ lacks; this migration would be generated:\n\n%s\n", res.SQL)
				for _, n := range res.Notes {
					fmt.Fprintf(r.out, "Note: %s.\n\n", n)
				}
				return errors.New("migrations/ is behind the Ent schema: run `accounts migrate diff NAME` and commit the file")
			})
		},
	})
}

func (a *app) migrateApplyCommand() *cobra.Command {
	var (
		to, from, baseline, txMode string
		dryRun                     bool
		lockTimeout                time.Duration
	)
	cmd := migrateFlags(&cobra.Command{
		Use:   "apply [N]",
		Short: "Apply pending migrations, or the next N (like alembic upgrade head)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := countArg(args)
			if err != nil {
				return err
			}
			mode, err := migrate.ParseTxMode(txMode)
			if err != nil {
				return err
			}
			if from != "" && !dryRun {
				return errors.New("--from VERSION is for a dry run without a database; add --dry-run")
			}
			return a.withDir(cmd, from == "", func(r migrateRun) error {
				var db *sql.DB
				if r.db != nil {
					db = r.db.SQL
				}
				_, err := migrate.Apply(cmd.Context(), db, r.dir, migrate.ApplyOptions{
					N: n, To: to, DryRun: dryRun, From: from, Baseline: baseline, TxMode: mode,
					Operator: migrate.Operator(version), Out: r.out, LockTimeout: lockTimeout,
					RevisionSchema: a.revisionSchema(),
				}.LockOptions(a.cfg.Migrate.StatementLockTimeout, a.cfg.Migrate.LockRetries))
				return err
			})
		},
	})
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "apply pending files up to and including this version")
	f.BoolVar(&dryRun, "dry-run", false, "print the SQL that would run; change nothing (not even the revision table)")
	f.StringVar(&from, "from", "", "with --dry-run: the version the database is at (\"none\" for an empty one); print the SQL of the later files without connecting to any database (like alembic upgrade FROM:head --sql)")
	f.StringVar(&baseline, "baseline", "", "the database already has the schema of this version (no revision table yet): record it and apply what follows")
	f.StringVar(&txMode, "tx-mode", "file", "transaction per file (file), one for the whole run (all), or none")
	f.DurationVar(&lockTimeout, "lock-timeout", 0, "give up when another run holds the migration lock this long (default: wait)")
	return cmd
}

func (a *app) migrateDownCommand() *cobra.Command {
	var (
		to            string
		dryRun, force bool
	)
	cmd := migrateFlags(&cobra.Command{
		Use:   "down [N]",
		Short: "Revert the last N applied migrations, default 1 (like alembic downgrade -1); the SQL is computed",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := countArg(args)
			if err != nil {
				return err
			}
			dev := migrate.DevDatabase{URL: a.cfg.Migrate.DevURL}
			return a.withDir(cmd, true, func(r migrateRun) error {
				_, err := migrate.Down(cmd.Context(), r.db.SQL, r.dir, migrate.DownOptions{
					N: n, To: to, DryRun: dryRun, Force: force, Dev: dev, Out: r.out,
					RevisionSchema: a.revisionSchema(),
				})
				return err
			})
		},
	})
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "revert every migration applied after this version")
	f.BoolVar(&dryRun, "dry-run", false, "print the computed SQL; change nothing")
	f.BoolVar(&force, "force", false, "drop tables and columns even when they hold rows")
	return cmd
}

func (a *app) migrateStatusCommand() *cobra.Command {
	var check, noDrift bool
	cmd := migrateFlags(&cobra.Command{
		Use:   "status",
		Short: "Show the current version, pending files and the last error (like alembic current)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDir(cmd, true, func(r migrateRun) error {
				st, err := migrate.Status(cmd.Context(), r.db.SQL, r.dir, a.revisionSchema())
				if err != nil {
					return err
				}
				printStatus(r.out, st)
				if !noDrift {
					rep, err := migrate.Drift(cmd.Context(), r.db.SQL, r.dir, migrate.DriftOptions{Dev: a.migrateDev(), RevisionSchema: a.revisionSchema()})
					if err != nil {
						fmt.Fprintf(r.out, "Drift:           not checked: %v\n", err)
					} else {
						printDrift(r.out, rep)
					}
				}
				if check && !st.UpToDate() {
					return errors.New("the database is not at the migration head")
				}
				return nil
			})
		},
	})
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 when anything is pending or failed (for scripts and readiness)")
	cmd.Flags().BoolVar(&noDrift, "no-drift", false, "skip the drift check (it replays the applied files on a dev database)")
	return cmd
}

func (a *app) migrateDriftCommand() *cobra.Command {
	return migrateFlags(&cobra.Command{
		Use:   "drift",
		Short: "Exit 1 when the live schema differs from what the applied migration files make, listing extra, missing and changed objects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDir(cmd, true, func(r migrateRun) error {
				rep, err := migrate.Drift(cmd.Context(), r.db.SQL, r.dir, migrate.DriftOptions{Dev: a.migrateDev(), RevisionSchema: a.revisionSchema()})
				if err != nil {
					return err
				}
				printDrift(r.out, rep)
				if n := rep.Objects(); n > 0 {
					return fmt.Errorf("schema drift: %d object(s) differ from what the migration files up to %s make", n, orNone(rep.Version))
				}
				return nil
			})
		},
	})
}

func orNone(v string) string {
	if v == "" {
		return "no version"
	}
	return "version " + v
}

// printDrift lists a drift report.
func printDrift(w io.Writer, rep *migrate.DriftReport) {
	if rep.Objects() == 0 {
		fmt.Fprintf(w, "Drift:           none (the schema is what the files up to %s make)\n", orNone(rep.Version))
		return
	}
	fmt.Fprintf(w, "Drift:           %d object(s) differ from what the files up to %s make\n", rep.Objects(), orNone(rep.Version))
	for _, l := range []struct {
		label string
		items []string
	}{{"extra (only in the database)", rep.Extra}, {"missing (the files make it)", rep.Missing}, {"changed", rep.Changed}} {
		for _, it := range l.items {
			fmt.Fprintf(w, "  %s: %s\n", l.label, it)
		}
	}
}

func printStatus(w io.Writer, st *migrate.StatusReport) {
	state := "OK (up to date)"
	if !st.UpToDate() {
		state = "PENDING"
	}
	cur := st.Current
	if cur == "" {
		cur = "none"
	}
	head := st.Head
	if head == "" {
		head = "none (no migration files)"
	}
	fmt.Fprintf(w, "Status:          %s\n", state)
	fmt.Fprintf(w, "Current version: %s\n", cur)
	fmt.Fprintf(w, "Head version:    %s\n", head)
	c := st.Counts
	fmt.Fprintf(w, "Files:           %d (applied %d, failed %d, partial %d, pending %d)\n",
		c.Applied+c.Failed+c.Partial+c.Pending, c.Applied, c.Failed, c.Partial, c.Pending)
	if c.MissingFile > 0 {
		fmt.Fprintf(w, "Applied, file missing: %d (%s): the directory no longer describes them\n", c.MissingFile, strings.Join(st.MissingFiles, ", "))
	}
	fmt.Fprintf(w, "To apply:        %d\n", len(st.Pending))
	for _, f := range st.Pending {
		fmt.Fprintf(w, "  - %s\n", f.Name())
	}
	for _, f := range st.OutOfOrder {
		fmt.Fprintf(w, "  ! %s was added out of order (older than the applied history); regenerate it with a newer version\n", f.Name())
	}
	if st.NotClean != "" {
		fmt.Fprintf(w, "Note: the database has tables but no migration history (%s); apply needs --baseline VERSION.\n", st.NotClean)
	}
	if e := st.LastError; e != nil {
		fmt.Fprintf(w, "Last error:      version %s (%s), statement %d of %d:\n  %s\n  %s\n",
			e.Version, e.Description, st.LastErrorStmt, e.Total, strings.TrimSpace(e.ErrorStmt), e.Error)
	}
}

func (a *app) migrateHistoryCommand() *cobra.Command {
	return migrateFlags(&cobra.Command{
		Use:   "history",
		Short: "List every migration: version, name, state, applied at, time taken, applied by (like alembic history)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDir(cmd, true, func(r migrateRun) error {
				h, err := migrate.History(cmd.Context(), r.db.SQL, r.dir, a.revisionSchema())
				if err != nil {
					return err
				}
				return printHistory(r.out, h)
			})
		},
	})
}

// printHistory writes the history table, then the error of each failed
// file.
func printHistory(out io.Writer, h []migrate.HistoryEntry) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT\tTIME\tAPPLIED BY")
	for _, e := range h {
		at, took := "-", "-"
		if !e.ExecutedAt.IsZero() {
			at = e.ExecutedAt.UTC().Format(time.RFC3339)
			took = e.ExecutionTime.Round(time.Microsecond).String()
		}
		state := e.State
		if e.State == "failed" || e.State == "partial" {
			state = fmt.Sprintf("%s (%d/%d)", e.State, e.Applied, e.Total)
		}
		op := e.Operator
		if op == "" {
			op = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Version, e.Description, state, at, took, op)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range h {
		if e.Error != "" {
			fmt.Fprintf(out, "\n%s failed at: %s\n  %s\n", e.Version, strings.TrimSpace(e.ErrorStmt), e.Error)
		}
	}
	return nil
}

func (a *app) migrateHashCommand() *cobra.Command {
	return migrateFlags(&cobra.Command{
		Use:   "hash",
		Short: "Rewrite atlas.sum from the files (after a deliberate edit)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.writeDir(false)
			if err != nil {
				return err
			}
			if err := migrate.Hash(dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Rewrote %s/atlas.sum.\n", dir.Path())
			return nil
		},
	})
}

func (a *app) migrateValidateCommand() *cobra.Command {
	return migrateFlags(&cobra.Command{
		Use:   "validate",
		Short: "Check the files against atlas.sum; exit 1 on a mismatch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDir(cmd, false, func(r migrateRun) error {
				if err := migrate.Validate(r.dir); err != nil {
					return err
				}
				fmt.Fprintln(r.out, "OK: every file matches atlas.sum.")
				return nil
			})
		},
	})
}

func (a *app) migrateNewCommand() *cobra.Command {
	return migrateFlags(&cobra.Command{
		Use:   "new NAME",
		Short: "Create an empty, hashed migration file for hand-written SQL (data migrations)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := a.writeDir(true)
			if err != nil {
				return err
			}
			name, err := migrate.New(dir, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Created %s/%s; after editing it, run %s.\n", dir.Path(), name, advise("`accounts migrate hash`", a.cli))
			return nil
		},
	})
}

func (a *app) migrateLintCommand() *cobra.Command {
	var latest int
	cmd := migrateFlags(&cobra.Command{
		Use:   "lint",
		Short: "Analyse migrations for data loss, data-dependent changes, long locks and changes that break the running release; errors exit 1",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDir(cmd, false, func(r migrateRun) error {
				return printLint(cmd.Context(), r.out, r.dir, latest, a.migrateDev())
			})
		},
	})
	cmd.Flags().IntVar(&latest, "latest", 0, "lint only the newest N files (default: all)")
	return cmd
}

// printLint lints the directory and prints the findings; errors exit 1.
func printLint(ctx context.Context, out io.Writer, dir atlasmigrate.Dir, latest int, dev migrate.DevDatabase) error {
	rep, err := migrate.Lint(ctx, dir, migrate.LintOptions{Latest: latest, Dev: dev})
	if err != nil {
		return err
	}
	for _, f := range rep.Findings {
		fmt.Fprintln(out, f.String())
		if f.Stmt > 0 {
			fmt.Fprintf(out, "    %s\n", strings.Join(strings.Fields(f.SQL), " "))
		}
	}
	errs := rep.Errors()
	fmt.Fprintf(out, "Linted %d file(s): %d error(s), %d warning(s).\n", len(rep.Files), errs, len(rep.Findings)-errs)
	if errs > 0 {
		return fmt.Errorf("lint found %d error(s); fix them, or mark an intended change with `-- atlas:nolint CLASS` above the statement", errs)
	}
	return nil
}
