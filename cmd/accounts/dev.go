package main

import (
	"github.com/spf13/cobra"

	"accounts/internal/cli"
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
does not exist, applies pending migrations and serves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stop, err := cli.PrepareDev(cmd.Context(), a.cfg, a.log)
			defer stop()
			if err != nil {
				return err
			}
			return a.serve(cmd.Context())
		},
	}
	cmd.Flags().String("addr", "", "listen address, host:port (http.addr, default :8080)")
	cmd.Flags().String("data-dir", "", "where the private cluster lives (dev.data_dir)")
	return cmd
}
