package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
)

// app is what every command shares: the process's environment and output,
// and the configuration loaded once before the command runs.
type app struct {
	getenv func(string) string
	// now is the clock of sessions and throttles: time.Now, or the
	// settable clock of the end-to-end tests, which test expiry and
	// sliding extension without sleeping.
	now    func() time.Time
	stdout io.Writer
	stderr io.Writer
	cfg    *config.Config
	log    *slog.Logger
	// cli is how the user runs this binary (invocation), named in the
	// commands the tool advises.
	cli string
}

// exitCode is the process's exit status for what run returned: 1 for any
// error, whether the command failed or its answer is "no" (`migrate
// status --check`, `migrate check`, `migrate lint`), as scripts expect.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	return 1
}

// run is the whole program: main only supplies the process's context,
// arguments, environment, clock and output, so tests can run it
// in-process.
func run(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	a := &app{getenv: getenv, now: now, stdout: stdout, stderr: stderr, cli: invocation(args[0])}
	root := a.rootCommand()
	root.SetArgs(args[1:])
	root.SetOut(stdout)
	root.SetErr(stderr)
	return adviseError(root.ExecuteContext(ctx), a.cli)
}

func (a *app) rootCommand() *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:           "accounts",
		Short:         "User-account service: REST API, migrations and developer tools",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.Sources{
				File: configFile, Getenv: a.getenv, Flags: cmd.Flags(),
				Environ: environNames(), OtherVariables: []string{superAdminPasswordEnv, userPasswordEnv},
			})
			if err != nil {
				return err
			}
			a.cfg = cfg
			a.log = newLogger(cfg.Log, a.stderr)
			return nil
		},
	}
	root.SetVersionTemplate(versionText())
	pf := root.PersistentFlags()
	pf.StringVar(&configFile, "config", "", "YAML configuration `FILE` (accounts config show --format yaml prints one)")
	pf.String("database-url", "", "database URL (overrides DATABASE_URL and the database.* parts)")
	pf.String("log-level", "", "debug, info, warn or error")
	pf.String("log-format", "", "text, json or auto")

	root.AddCommand(
		a.serveCommand(),
		a.devCommand(),
		a.waitDBCommand(),
		a.healthcheckCommand(),
		a.configCommand(),
		a.usersCommand(),
		a.auditCommand(),
		a.migrateCommand(),
		a.versionCommand(),
	)
	return root
}

// environNames are the names of the process's environment variables. The
// values always come from getenv, so a name the injected environment does
// not set (in tests) is not checked.
func environNames() []string {
	var names []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	return names
}

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	show := &cobra.Command{
		Use:   "show [--format text|yaml]",
		Short: "Print the effective configuration, with the source of each value and secrets redacted",
		Long: "Print the effective configuration, with the source of each value and secrets redacted.\n" +
			"--format yaml prints a file that --config accepts (set secrets are left as comments).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch f, _ := cmd.Flags().GetString("format"); f {
			case "text":
				return a.cfg.Show(a.stdout)
			case "yaml":
				return a.cfg.ShowYAML(a.stdout)
			default:
				return fmt.Errorf("--format %q: want text or yaml", f)
			}
		},
	}
	show.Flags().String("format", "text", "`text` (key = value, one a line) or yaml (a file for --config)")
	cmd.AddCommand(show)
	return cmd
}

func (a *app) waitDBCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wait-db",
		Short: "Wait until the database answers SELECT 1 (the pre-start step)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.waitDB(cmd.Context())
		},
	}
	cmd.Flags().Duration("wait-timeout", 0, "give up after this long (database.wait_timeout)")
	return cmd
}

// newLogger builds the process logger: JSON for machines, text on a terminal.
// Every line logged with a request's context, the SQL and pool echo of the
// database included, carries the request's id.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(httpapi.LogHandler(slog.NewTextHandler(w, opts)))
	}
	opts.ReplaceAttr = secondsAttr
	return slog.New(httpapi.LogHandler(slog.NewJSONHandler(w, opts)))
}

// secondsAttr writes a duration in a JSON line as seconds, a float
// ("took":0.012), as log pipelines and Prometheus expect, instead of
// slog's integer of nanoseconds.
func secondsAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}

func (a *app) waitDB(ctx context.Context) error {
	d := a.cfg.Database
	return database.Wait(ctx, d.ConnString(), d.WaitEvery, d.WaitTimeout, a.log)
}
