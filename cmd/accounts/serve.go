package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"accounts/internal/database"
	"accounts/internal/migrate"
	"accounts/migrations"
)

func (a *app) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST API (waits for the database first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context())
		},
	}
	cmd.Flags().String("addr", "", "listen address, host:port (http.addr, default :8080)")
	cmd.Flags().Bool("migrate", false, "apply pending migrations before taking traffic (migrate.on_start)")
	return cmd
}

// serve runs the API until ctx is cancelled, then drains in-flight requests
// within http.shutdown_timeout and closes the pool.
func (a *app) serve(ctx context.Context) error {
	cfg := a.cfg
	if err := a.waitDB(ctx); err != nil {
		return err
	}
	db, err := database.Open(ctx, cfg.Database, a.log)
	if err != nil {
		return err
	}
	defer db.Close()

	dir, origin, err := migrate.OpenDir(cfg.Migrate.Dir, migrations.FS)
	if err != nil {
		return err
	}
	if cfg.Migrate.OnStart {
		a.log.Info("applying pending migrations", "dir", origin)
		start := time.Now()
		rep, err := migrate.Apply(ctx, db.SQL, dir, migrate.ApplyOptions{
			Operator:       migrate.Operator(version),
			RevisionSchema: a.revisionSchema(),
		})
		if err != nil {
			return fmt.Errorf("migrate on start: %w", err)
		}
		a.log.Info("migrations applied", "files", len(rep.Files), "took", time.Since(start).Round(time.Millisecond))
	}

	handler, err := a.newHandler(ctx, db, dir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (http.addr): %w", cfg.HTTP.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", cfg.HTTP.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown did not finish within %s: %w", cfg.HTTP.ShutdownTimeout, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"
