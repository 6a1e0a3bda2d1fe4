package cli

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/spf13/cobra"

	"accounts/internal/database"
	"accounts/internal/migrate"
	"accounts/migrations"
)

// migrateGroup is `accounts migrate`: the versioned-migration workflow,
// interchangeable with the Atlas CLI's (same directory, atlas.sum and
// revision table). It holds the flag values of its subcommands.
type migrateGroup struct {
	*Env
	enumRenames, columnRenames, tableRenames []string

	to, from, baseline, txMode string
	dryRun, force, sql         bool
	lockTimeout                time.Duration
	check, noDrift             bool
	latest                     int
}

// NewMigrate returns `accounts migrate` and its subcommands.
func NewMigrate(env *Env) *cobra.Command {
	m := &migrateGroup{Env: env}
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
	subs := []*cobra.Command{
		m.diffCommand(), m.applyCommand(), m.downCommand(), m.statusCommand(),
		{Use: "drift", Args: cobra.NoArgs, RunE: m.runDrift,
			Short: "Exit 1 when the live schema differs from what the applied migration files make, listing extra, missing and changed objects"},
		{Use: "history", Args: cobra.NoArgs, RunE: m.runHistory,
			Short: "List every migration: version, name, state, applied at, time taken, applied by (like alembic history)"},
		{Use: "hash", Args: cobra.NoArgs, RunE: m.runHash,
			Short: "Rewrite atlas.sum from the files (after a deliberate edit)"},
		{Use: "validate", Args: cobra.NoArgs, RunE: m.runValidate,
			Short: "Check the files against atlas.sum; exit 1 on a mismatch"},
		{Use: "new NAME", Args: cobra.ExactArgs(1), RunE: m.runNew,
			Short: "Create an empty, hashed migration file for hand-written SQL (data migrations)"},
		m.lintCommand(),
		{Use: "check", Args: cobra.NoArgs, RunE: m.runCheck,
			Short: "Exit 1, printing the would-be SQL, when the Ent schema has changes migrations/ lacks (like alembic check)"},
	}
	// Every subcommand takes these; config.Load maps them onto
	// migrate.dir and migrate.dev_url.
	for _, c := range subs {
		c.Flags().String("dir", "", "migration directory (migrate.dir, default migrations); the embedded copy is used when it does not exist")
		c.Flags().String("dev-url", "", "empty dev database for replaying migrations (migrate.dev_url); default: a throw-away database on the configured server")
	}
	cmd.AddCommand(subs...)
	return cmd
}

// DownCountArgs rewrites `migrate down -N` (Alembic's `downgrade -1`) as
// `migrate down N` in a command line (without the program name): cobra
// would read -1 as an unknown shorthand flag.
func DownCountArgs(args []string) []string {
	down := slices.Index(args, "down")
	if down < 1 || !slices.Contains(args[:down], "migrate") {
		return args
	}
	out := slices.Clone(args)
	for i := down + 1; i < len(out) && out[i] != "--"; i++ {
		if n, ok := strings.CutPrefix(out[i], "-"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			out[i] = n
		}
	}
	return out
}

// dev returns where the dev database comes from.
func (m *migrateGroup) dev() migrate.DevDatabase {
	return migrate.DevDatabase{URL: m.Config.Migrate.DevURL, ServerURL: m.Config.Database.ConnString()}
}

// revisionSchema is where the revision table lives for the configured
// database, by the Atlas CLI's rule.
func (m *migrateGroup) revisionSchema() string {
	return migrate.RevisionSchemaOf(m.Config.Database.ConnString())
}

// writeDir opens the directory on disk for commands that write files.
func (m *migrateGroup) writeDir(create bool) (*atlasmigrate.LocalDir, error) {
	return migrate.OpenLocalDir(m.Config.Migrate.Dir, create)
}

// migrateRun is what a subcommand that reads the migration directory works
// with: where to print, the directory, and the database when it asked for
// one.
type migrateRun struct {
	out io.Writer
	dir atlasmigrate.Dir
	db  *database.DB
}

// adviceWriter names the binary as invoked in the advice that the engine
// prints ("run `accounts migrate hash`"). The engine writes each message
// in one Write, so no advice is split across two.
type adviceWriter struct {
	w   io.Writer
	cli string
}

func (a adviceWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(a.w, Advise(string(p), a.cli)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// withDir is the preamble of every subcommand that reads the directory: it
// opens the directory and says where it came from, opens the configured
// database when withDB is set (closed when fn returns), and runs fn.
func (m *migrateGroup) withDir(cmd *cobra.Command, withDB bool, fn func(r migrateRun) error) error {
	r := migrateRun{out: adviceWriter{w: cmd.OutOrStdout(), cli: m.CLI}}
	dir, origin, err := migrate.OpenDir(m.Config.Migrate.Dir, migrations.FS)
	if err != nil {
		return err
	}
	// A script for psql (apply --sql) has nothing but SQL on stdout.
	originOut := r.out
	if m.sql {
		originOut = cmd.ErrOrStderr()
	}
	if _, err := fmt.Fprintf(originOut, "Migration directory: %s\n", origin); err != nil {
		return err
	}
	r.dir = dir
	if withDB {
		if r.db, err = database.Open(cmd.Context(), m.Config.Database, m.Log); err != nil {
			return err
		}
		defer r.db.Close()
	}
	err = fn(r)
	if withDB {
		// A database or role that does not exist, a refused password: the
		// words serve and wait-db use, with what to do.
		if perr := database.Permanent(err, m.Config.Database.ConnString()); perr != nil {
			return perr
		}
	}
	return err
}

func (m *migrateGroup) diffCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff NAME",
		Short: "Write a migration for the difference between migrations/ and the Ent schema (like alembic revision --autogenerate)",
		Args:  cobra.ExactArgs(1),
		RunE:  m.runDiff,
	}
	cmd.Flags().StringArrayVar(&m.enumRenames, "rename-enum-value", nil,
		"TYPE.OLD=NEW: a value of a native enum type was renamed in the Ent schema; write ALTER TYPE … RENAME VALUE (rows keep their value) instead of removing OLD and adding NEW (repeatable)")
	cmd.Flags().StringArrayVar(&m.columnRenames, "rename-column", nil,
		"TABLE.OLD=NEW: a column was renamed in the Ent schema; write ALTER TABLE … RENAME COLUMN (the data stays) instead of dropping OLD and adding NEW (repeatable)")
	cmd.Flags().StringArrayVar(&m.tableRenames, "rename-table", nil,
		"OLD=NEW: a table was renamed in the Ent schema; write ALTER TABLE … RENAME TO (the rows stay) instead of dropping OLD and creating NEW (repeatable)")
	return cmd
}

func (m *migrateGroup) runDiff(cmd *cobra.Command, args []string) error {
	opts := migrate.DiffOptions{Name: args[0], Dev: m.dev()}
	var err error
	if opts.EnumRenames, err = parseAll(m.enumRenames, migrate.ParseEnumRename); err != nil {
		return err
	}
	if opts.ColumnRenames, err = parseAll(m.columnRenames, migrate.ParseColumnRename); err != nil {
		return err
	}
	if opts.TableRenames, err = parseAll(m.tableRenames, migrate.ParseTableRename); err != nil {
		return err
	}
	dir, err := m.writeDir(true)
	if err != nil {
		return err
	}
	res, err := migrate.Diff(cmd.Context(), dir, opts)
	if err != nil {
		return err
	}
	return printDiff(cmd.OutOrStdout(), dir.Path(), res, m.advise)
}

func (m *migrateGroup) runCheck(cmd *cobra.Command, _ []string) error {
	return m.withDir(cmd, false, func(r migrateRun) error {
		res, err := migrate.Check(cmd.Context(), r.dir, migrate.DiffOptions{Dev: m.dev()})
		if err != nil {
			return err
		}
		return printCheck(r.out, res)
	})
}

func (m *migrateGroup) applyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apply [N]",
		Short: "Apply pending migrations, or the next N (like alembic upgrade head)",
		Args:  cobra.MaximumNArgs(1),
		RunE:  m.runApply,
	}
	f := cmd.Flags()
	f.StringVar(&m.to, "to", "", "apply pending files up to and including this version")
	f.BoolVar(&m.dryRun, "dry-run", false, "print the SQL that would run; change nothing (not even the revision table)")
	f.StringVar(&m.from, "from", "", "with --dry-run or --sql: the version the database is at (\"none\" for an empty one); print the later files without connecting to any database")
	f.BoolVar(&m.sql, "sql", false, "with --from: write only SQL, a script for psql -v ON_ERROR_STOP=1: each file in its transaction mode with the revision rows the Atlas CLI writes (like alembic upgrade FROM:head --sql)")
	f.StringVar(&m.baseline, "baseline", "", "the database already has the schema of this version (no revision table yet): record it and apply what follows")
	f.StringVar(&m.txMode, "tx-mode", "file", "transaction per file (file), one for the whole run (all), or none")
	f.DurationVar(&m.lockTimeout, "lock-timeout", 0, "give up when another run holds the migration lock this long (default: wait)")
	return cmd
}

func (m *migrateGroup) runApply(cmd *cobra.Command, args []string) error {
	n, err := countArg(args)
	if err != nil {
		return err
	}
	mode, err := migrate.ParseTxMode(m.txMode)
	if err != nil {
		return err
	}
	return m.withDir(cmd, m.from == "", func(r migrateRun) error {
		var db *sql.DB
		if r.db != nil {
			db = r.db.SQL
		}
		_, err := migrate.Apply(cmd.Context(), db, r.dir, migrate.ApplyOptions{
			N: n, To: m.to, DryRun: m.dryRun, From: m.from, SQL: m.sql, Baseline: m.baseline, TxMode: mode,
			Operator: migrate.Operator(m.Version), Out: r.out, LockTimeout: m.lockTimeout,
			RevisionSchema: m.revisionSchema(),
		}.LockOptions(m.Config.Migrate.StatementLockTimeout, m.Config.Migrate.LockRetries))
		return err
	})
}

func (m *migrateGroup) downCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "down [N]",
		Short: "Revert the last N applied migrations, default 1 (down 2, or down -2 as in alembic downgrade -2); the SQL is computed",
		Args:  cobra.MaximumNArgs(1),
		RunE:  m.runDown,
	}
	f := cmd.Flags()
	f.StringVar(&m.to, "to", "", "revert every migration applied after this version")
	f.BoolVar(&m.dryRun, "dry-run", false, "print the computed SQL; change nothing")
	f.BoolVar(&m.force, "force", false, "drop tables and columns even when they hold rows")
	return cmd
}

func (m *migrateGroup) runDown(cmd *cobra.Command, args []string) error {
	n, err := countArg(args)
	if err != nil {
		return err
	}
	dev := migrate.DevDatabase{URL: m.Config.Migrate.DevURL}
	return m.withDir(cmd, true, func(r migrateRun) error {
		_, err := migrate.Down(cmd.Context(), r.db.SQL, r.dir, migrate.DownOptions{
			N: n, To: m.to, DryRun: m.dryRun, Force: m.force, Dev: dev, Out: r.out,
			RevisionSchema: m.revisionSchema(),
		})
		return err
	})
}

func (m *migrateGroup) statusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the current version, pending files and the last error (like alembic current)",
		Args:  cobra.NoArgs,
		RunE:  m.runStatus,
	}
	cmd.Flags().BoolVar(&m.check, "check", false, "exit 1 when anything is pending or failed (for scripts and readiness)")
	cmd.Flags().BoolVar(&m.noDrift, "no-drift", false, "skip the drift check (it replays the applied files on a dev database)")
	return cmd
}

func (m *migrateGroup) runStatus(cmd *cobra.Command, _ []string) error {
	return m.withDir(cmd, true, func(r migrateRun) error {
		st, err := migrate.Status(cmd.Context(), r.db.SQL, r.dir, m.revisionSchema())
		if err != nil {
			return err
		}
		p := &printer{w: r.out}
		printStatus(p, st)
		if !m.noDrift {
			rep, err := migrate.Drift(cmd.Context(), r.db.SQL, r.dir, migrate.DriftOptions{Dev: m.dev(), RevisionSchema: m.revisionSchema()})
			if err != nil {
				p.f("Drift:           not checked: %v\n", err)
			} else {
				printDrift(p, rep)
			}
		}
		if p.err != nil {
			return p.err
		}
		if m.check && !st.UpToDate() {
			return errors.New("the database is not at the migration head")
		}
		return nil
	})
}

func (m *migrateGroup) runDrift(cmd *cobra.Command, _ []string) error {
	return m.withDir(cmd, true, func(r migrateRun) error {
		rep, err := migrate.Drift(cmd.Context(), r.db.SQL, r.dir, migrate.DriftOptions{Dev: m.dev(), RevisionSchema: m.revisionSchema()})
		if err != nil {
			return err
		}
		p := &printer{w: r.out}
		if printDrift(p, rep); p.err != nil {
			return p.err
		}
		if n := rep.Objects(); n > 0 {
			return fmt.Errorf("schema drift: %d object(s) differ from what the migration files up to %s make", n, orNone(rep.Version))
		}
		return nil
	})
}

func (m *migrateGroup) runHistory(cmd *cobra.Command, _ []string) error {
	return m.withDir(cmd, true, func(r migrateRun) error {
		h, err := migrate.History(cmd.Context(), r.db.SQL, r.dir, m.revisionSchema())
		if err != nil {
			return err
		}
		return printHistory(r.out, h)
	})
}

func (m *migrateGroup) runHash(cmd *cobra.Command, _ []string) error {
	dir, err := m.writeDir(false)
	if err != nil {
		return err
	}
	if err := migrate.Hash(dir); err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "Rewrote %s/atlas.sum.\n", dir.Path())
	return err
}

func (m *migrateGroup) runValidate(cmd *cobra.Command, _ []string) error {
	return m.withDir(cmd, false, func(r migrateRun) error {
		if err := migrate.Validate(r.dir); err != nil {
			return err
		}
		_, err := fmt.Fprintln(r.out, "OK: every file matches atlas.sum.")
		return err
	})
}

func (m *migrateGroup) runNew(cmd *cobra.Command, args []string) error {
	dir, err := m.writeDir(true)
	if err != nil {
		return err
	}
	name, err := migrate.New(dir, args[0])
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "Created %s/%s; after editing it, run %s.\n", dir.Path(), name, m.advise("`accounts migrate hash`"))
	return err
}

func (m *migrateGroup) lintCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lint",
		Short: "Analyse migrations for data loss, data-dependent changes, long locks and changes that break the running release; errors exit 1",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.withDir(cmd, false, func(r migrateRun) error {
				return printLint(cmd.Context(), r.out, r.dir, m.latest, m.dev())
			})
		},
	}
	cmd.Flags().IntVar(&m.latest, "latest", 0, "lint only the newest N files (default: all)")
	return cmd
}
