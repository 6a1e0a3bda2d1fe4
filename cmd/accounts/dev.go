package main

import (
	"github.com/spf13/cobra"

	"accounts/internal/config"
)

// devCommand is `accounts dev`: serve on a database that needs no setup
// (internal/cli.PrepareDev).
func (a *app) devCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Serve on a database that needs no setup: the configured one, the local default, or a private cluster",
		Long: `dev is the zero-setup way to run the service (make run).

When no database is configured (no DATABASE_URL, no database.* key) and
nothing answers at the default address, it starts a private PostgreSQL
cluster from the installed server binaries in dev.data_dir (.data/postgres),
reusing its data on the next run and stopping it on exit. It then creates the configured database when it
does not exist, with the two roles of a deployment (internal/database/roles.sql):
it applies pending migrations as the owner role and serves as the runtime role.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dev, stop, err := a.env.PrepareDev(cmd.Context())
			defer stop()
			if err != nil {
				return err
			}
			devDefaults(a.cfg)
			a.dev = dev
			return a.serve(cmd.Context())
		},
	}
	cmd.Flags().String("addr", "", "listen address, host:port (http.addr; dev's default is "+devAddr+", loopback: :8080 listens on every interface)")
	cmd.Flags().String("data-dir", "", "where the private cluster lives (dev.data_dir)")
	return cmd
}

// devAddr is where dev listens unless told otherwise: loopback, since a
// development server with /docs on is for this machine, not the network.
const devAddr = "127.0.0.1:8080"

// devDefaults turns serve's settings into dev's: migrations applied on
// start, and the keys left at their defaults set for one person trying
// the API on their own machine.
func devDefaults(cfg *config.Config) {
	cfg.Migrate.OnStart = true
	if cfg.Source("http.docs") == "default" {
		// The interactive documentation is for people trying the API,
		// which is what dev is for; serve leaves it to the operator.
		cfg.HTTP.Docs = true
	}
	if cfg.Source("http.addr") == "default" {
		cfg.HTTP.Addr = devAddr
	}
}
