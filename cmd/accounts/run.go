package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"accounts/internal/cli"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/service"
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
	// env is what the command groups of internal/cli share, filled in by
	// the root command's preamble.
	env *cli.Env
	// dev is the roles `accounts dev` set up; zero for serve.
	dev cli.DevDatabase
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
	root.SetArgs(cli.DownCountArgs(args[1:]))
	root.SetOut(stdout)
	root.SetErr(stderr)
	return adviseError(root.ExecuteContext(ctx), a.cli)
}

// rootCommand is the command tree: the one list of accounts' commands.
// Its preamble loads the configuration once, for whichever runs.
func (a *app) rootCommand() *cobra.Command {
	var configFile string
	env := &cli.Env{Getenv: a.getenv, Stdout: a.stdout, Version: version, CLI: a.cli}
	a.env = env
	root := &cobra.Command{
		Use:           "accounts",
		Short:         "User-account service: REST API, migrations and developer tools",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.Sources{
				File: configFile, Getenv: a.getenv, Flags: cmd.Flags(),
				Environ: environNames(), OtherVariables: []string{cli.SuperAdminPasswordEnv, cli.UserPasswordEnv},
			})
			if err != nil {
				return err
			}
			a.cfg, env.Config = cfg, cfg
			a.log = service.NewLogger(cfg.Log, a.stderr)
			env.Log = a.log
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
		cli.NewConfig(env),
		cli.NewUsers(env),
		cli.NewAudit(env),
		cli.NewMigrate(env),
		a.versionCommand(),
	)
	return root
}

// advise names the CLI in msg's advice as the user started it.
func (a *app) advise(msg string) string { return cli.Advise(msg, a.cli) }

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

// waitDBCommand is `accounts wait-db`, the pre-start step.
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

// waitDB retries the database.* connection as database.wait_* say.
func (a *app) waitDB(ctx context.Context) error {
	d := a.cfg.Database
	return database.Wait(ctx, d.ConnString(), d.WaitEvery, d.WaitTimeout, a.log)
}
