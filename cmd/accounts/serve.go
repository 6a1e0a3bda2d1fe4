package main

import (
	"context"

	"github.com/spf13/cobra"

	"accounts/internal/config"
	"accounts/internal/migrate"
	"accounts/internal/service"
	"accounts/migrations"
)

// serveCommand is `accounts serve`: it refuses weak secrets, then runs
// the process.
func (a *app) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST API (waits for the database first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if weak := a.cfg.WeakSecrets(); len(weak) > 0 {
				return &config.Error{Problems: weak}
			}
			return a.serve(cmd.Context())
		},
	}
	cmd.Flags().String("addr", "", "listen address, host:port (http.addr, default :8080)")
	cmd.Flags().Bool("migrate", false, "apply pending migrations before taking traffic (migrate.on_start)")
	return cmd
}

// serve runs the process (internal/service) until ctx is cancelled.
func (a *app) serve(ctx context.Context) error {
	dir, origin, err := migrate.OpenDir(a.cfg.Migrate.Dir, migrations.FS)
	if err != nil {
		return err
	}
	build, _ := buildInfo()
	p, err := service.Open(ctx, service.Options{
		Config: a.cfg, Log: a.log, Now: a.now, Build: build, Advise: a.advise,
		Migrations: dir, MigrationsOrigin: origin, Operator: migrate.Operator(version),
		MigrateURL: a.dev.MigrateURL, DriftServerURL: a.dev.AdminURL,
	})
	if err != nil {
		return err
	}
	defer func() { _ = p.Close() }() // Close reports nothing Run has not
	return p.Run(ctx)
}
