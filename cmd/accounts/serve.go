package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/spf13/cobra"

	"accounts/internal/config"
	"accounts/internal/connbudget"
	"accounts/internal/database"
	"accounts/internal/metrics"
	"accounts/internal/migrate"
	"accounts/internal/service"
	"accounts/migrations"
)

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
		if err := a.migrateOnStart(ctx, db, dir, origin); err != nil {
			return err
		}
	}

	build, _ := buildInfo()
	h, err := service.New(ctx, service.Options{
		Config: cfg, Log: a.log, DB: db, Now: a.now, Build: build,
		Readiness: func(ctx context.Context, m *metrics.Metrics) (func(context.Context) error, error) {
			return a.readiness(ctx, db, dir, m)
		},
	})
	if err != nil {
		return err
	}
	api, metricsOnly := h.API, h.MetricsOnly
	ln, srv, err := a.apiServer(api)
	if err != nil {
		return err
	}
	h.Metrics.RegisterConnections(ln.Stats, ln.Max())
	servers := []*http.Server{srv}
	listeners := []net.Listener{ln}
	if metricsOnly != nil {
		mln, err := net.Listen("tcp", cfg.Metrics.Addr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen on %s (metrics.addr): %w", cfg.Metrics.Addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsOnly)
		servers = append(servers, a.httpServer(mux))
		listeners = append(listeners, mln)
	}
	served := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { served <- srv.Serve(listeners[i]) }()
	}
	if len(listeners) > 1 {
		a.log.Info("metrics listening", "addr", listeners[1].Addr().String())
	}
	a.log.Info("listening", "addr", ln.Addr().String())

	// Run until told to stop, or until one server fails by itself; either
	// way every server is shut down before the pool closes (deferred).
	var errs []error
	keep := func(err error) {
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	running := len(servers)
	select {
	case err := <-served:
		keep(err)
		running--
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", cfg.HTTP.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	// Shutdown closes the listeners at once, so new connections are
	// refused, and waits for in-flight requests. Past the timeout, Close
	// cuts the connections left: their requests' contexts end, their
	// queries are cancelled and the pool can close instead of waiting for
	// them.
	drained := make(chan error, len(servers))
	for _, srv := range servers {
		go func() {
			err := srv.Shutdown(sctx)
			if err != nil {
				_ = srv.Close()
			}
			drained <- err
		}()
	}
	for range servers {
		if err := <-drained; err != nil {
			keep(fmt.Errorf("graceful shutdown did not finish within %s (http.shutdown_timeout): %w", cfg.HTTP.ShutdownTimeout, err))
		}
	}
	for ; running > 0; running-- {
		keep(<-served)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// migrateOnStart applies the build's pending files before serve takes
// traffic (serve --migrate). A database that has every file of the build
// and newer ones is left alone: it is the next release's, mid-deploy, and
// a newer file that failed part-way is that release's to finish (Atlas's
// executor refuses to run beside a partial revision whose file it lacks,
// which would keep this release from starting at all).
func (a *app) migrateOnStart(ctx context.Context, db *database.DB, dir atlasmigrate.Dir, origin string) error {
	build, err := migrate.NewBuildFiles(dir)
	if err != nil {
		return fmt.Errorf("migration directory: %w", err)
	}
	st, err := migrate.ReadBuildState(ctx, db.SQL, build, a.revisionSchema())
	if err == nil && len(st.Lacking) == 0 && len(st.Newer) > 0 {
		a.log.Info("no migrations to apply: the database has every file of this build", "dir", origin)
		return nil
	}
	a.log.Info("applying pending migrations", "dir", origin)
	start := time.Now()
	rep, err := migrate.Apply(ctx, db.SQL, dir, migrate.ApplyOptions{
		Operator:       migrate.Operator(version),
		RevisionSchema: a.revisionSchema(),
	}.LockOptions(a.cfg.Migrate.StatementLockTimeout, a.cfg.Migrate.LockRetries))
	if err != nil {
		return fmt.Errorf("migrate on start: %w", err)
	}
	a.log.Info("migrations applied", "files", len(rep.Files), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// apiServer listens on http.addr under the connection budget and returns
// the listener with the API's server on it.
func (a *app) apiServer(api http.Handler) (*connbudget.Listener, *http.Server, error) {
	raw, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s (http.addr): %w", a.cfg.HTTP.Addr, err)
	}
	ln := a.connectionBudget(raw)
	srv := a.httpServer(api)
	srv.ConnState = ln.ConnState
	return ln, srv, nil
}

// fileReserve is how many open files serve keeps beside the API's
// connections and the database pool: the metrics listener and its
// scrapes, logs, DNS lookups, the binary's own files.
const fileReserve = 64

// connectionBudget raises the open-file limit as far as the hard limit
// allows and puts the API's listener under http.max_connections and
// http.max_connections_per_address, lowering the first when it would not
// fit the limit beside the database pool, so accept never fails for want
// of a descriptor.
func (a *app) connectionBudget(ln net.Listener) *connbudget.Listener {
	cfg := a.cfg.HTTP
	limit, err := raiseFileLimit()
	if err != nil {
		a.log.Warn("could not raise the open-file limit to the hard limit", "limit", limit, "error", err.Error())
	}
	maxConns := cfg.MaxConnections
	reserve := a.cfg.Database.PoolSize + a.cfg.Database.MaxOverflow + fileReserve
	if limit > 0 && uint64(maxConns+reserve) > limit {
		maxConns = max(int(limit)-reserve, int(limit)/2, 1)
		a.log.Warn("http.max_connections lowered to fit the open-file limit (raise the hard limit, ulimit -Hn, to keep it)",
			"configured", cfg.MaxConnections, "max_connections", maxConns, "open_file_limit", limit, "reserved", reserve)
	}
	a.log.Info("connection budget", "max_connections", maxConns, "max_connections_per_address", cfg.MaxConnsPerAddr, "open_file_limit", limit)
	proxies := parsePrefixes(cfg.TrustedProxies)
	return connbudget.New(ln, connbudget.Options{
		Max:        maxConns,
		PerAddress: cfg.MaxConnsPerAddr,
		Exempt: func(ip netip.Addr) bool {
			return slices.ContainsFunc(proxies, func(p netip.Prefix) bool { return p.Contains(ip) })
		},
		Log: a.log,
	})
}

// parsePrefixes reads a comma-separated list of addresses and CIDRs
// (http.trusted_proxies), skipping what does not parse: the HTTP layer
// refuses such a list before serve listens.
func parsePrefixes(list string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		}
	}
	return out
}

// httpServer returns a server for h with the limits of the http.* keys.
func (a *app) httpServer(h http.Handler) *http.Server {
	cfg := a.cfg.HTTP
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}
