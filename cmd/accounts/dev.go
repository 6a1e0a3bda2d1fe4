package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"accounts/internal/config"
	"accounts/internal/pgcluster"
)

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
			return a.dev(cmd.Context())
		},
	}
	cmd.Flags().String("addr", "", "listen address, host:port (http.addr; dev's default is "+devAddr+", loopback: :8080 listens on every interface)")
	cmd.Flags().String("data-dir", "", "where the private cluster lives (dev.data_dir)")
	return cmd
}

// databaseKeys are the keys that, set by anything but the defaults, mean the
// user has chosen a database and dev must not start its own.
var databaseKeys = []string{"database.url", "database.host", "database.port", "database.user", "database.password", "database.name"}

func (a *app) dev(ctx context.Context) error {
	cfg := a.cfg
	for _, p := range cfg.WeakSecrets() {
		// dev is for trying the service out, so it runs, but serve
		// would refuse this configuration.
		a.log.Warn("INSECURE SECRET: " + p + "; serve refuses to start with it")
	}
	configured := false
	for _, k := range databaseKeys {
		if cfg.Source(k) != "default" {
			configured = true
		}
	}
	target := cfg.Database.ConnString()
	// Any database will do for the check: the configured one may not
	// exist yet.
	if !configured && pgcluster.Ping(ctx, maintenanceURL(target), 3*time.Second) != nil {
		a.log.Info("no database configured and none answers at the default address; starting a private cluster",
			"data_dir", cfg.Dev.DataDir)
		c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: cfg.Dev.DataDir, Logger: a.log})
		if err != nil {
			return err
		}
		a.log.Info("private PostgreSQL cluster is up", "url", c.URL(cfg.Database.Name), "data_dir", c.DataDir())
		// Other commands do not know of the cluster: say how they reach it.
		a.log.Info(fmt.Sprintf("the private cluster listens on a port of its own; give other commands its URL: DATABASE_URL='%s' %s users create-superadmin --username admin",
			c.URL(cfg.Database.Name), a.cli))
		if !c.Attached() {
			// A cluster this process started stops with it, so no server
			// outlives `make run`; one that was already running (another
			// dev process) is left to its owner.
			defer func() {
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := c.Stop(sctx); err != nil {
					a.log.Warn("stopping the private cluster", "error", err.Error())
				} else {
					a.log.Info("stopped the private cluster", "data_dir", c.DataDir())
				}
			}()
		}
		target = c.URL(cfg.Database.Name)
	}
	created, err := pgcluster.EnsureDatabase(ctx, maintenanceURL(target), databaseName(target))
	if err != nil {
		return fmt.Errorf("create database %q: %w", databaseName(target), err)
	}
	if created {
		a.log.Info("created database", "name", databaseName(target))
	}
	cfg.Database.URL = target
	devDefaults(cfg)
	return a.serve(ctx)
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

// maintenanceURL points u at the postgres database, which every server has.
func maintenanceURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/postgres"
	return p.String()
}

func databaseName(u string) string {
	p, err := url.Parse(u)
	if err != nil || strings.Trim(p.Path, "/") == "" {
		return config.Default().Database.Name
	}
	return strings.Trim(p.Path, "/")
}
