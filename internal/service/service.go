// Package service builds and runs the whole process from its
// configuration: the database, the password hasher, the account services,
// the login throttles, the metrics, the HTTP API under its connection
// budget, the metrics server, /readyz and the background jobs (the purge
// of expired rows and the schema drift check). It is the one place where
// dependencies are wired: `accounts serve`, `accounts dev` and the
// benchmark's servers (bench serve) all call Open, Run and Close, so the
// benchmark measures the service as it is deployed, and its yardsticks
// differ from it only in the parts they swap through Options.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
	"accounts/internal/metrics"
)

// Options are what Open needs besides the configuration.
type Options struct {
	Config *config.Config
	Log    *slog.Logger
	// Now is the clock of sessions, throttles and the HTTP layer: time.Now
	// in the process, a settable clock in tests.
	Now func() time.Time
	// Migrations is the build's migration directory, MigrationsOrigin
	// where it came from (for the log). With it, /readyz reports whether
	// every file is applied, the drift check runs, and migrate.on_start
	// applies the pending files; nil answers ready whenever the process
	// runs and checks nothing (the benchmark's servers).
	Migrations       atlasmigrate.Dir
	MigrationsOrigin string
	// Operator is what migrate.on_start records in the revision table as
	// the version that applied a file.
	Operator string
	// MigrateURL, when set, is the database URL migrate.on_start applies
	// the files as: the owner role's, when the service connects as a role
	// that cannot create tables (dev's runtime role).
	MigrateURL string
	// DriftServerURL, when set, is the server URL the drift check creates
	// its throw-away database with (when migrate.dev_url is not set), in
	// place of the service's own: dev's runtime role may not create one.
	DriftServerURL string
	// Services, when set, replaces the account services built on the
	// database: the benchmark's baseline (bench/baseline) passes its own.
	Services func(db *database.DB) (httpapi.UserService, httpapi.SessionService)
	// Handler, when set, is served in place of the API: the benchmark's
	// floor, a bare handler with nothing of the service's request path.
	Handler http.Handler
	// Build labels accounts_build_info; empty fields are "unknown".
	Build metrics.BuildInfo
	// Advise, when set, rewrites the commands a log line advises
	// ("`accounts migrate apply`") as the user runs the binary.
	Advise func(string) string
	// DriftChecks says when the schema drift check runs; its zero fields
	// mean the defaults (a minute after start, then every 15 minutes).
	DriftChecks DriftSchedule
}

// DriftSchedule is when the schema drift check runs: First after start,
// then Every.
type DriftSchedule struct {
	First, Every time.Duration
}

// Process is the running service: what Open built, served by Run and
// released by Close.
type Process struct {
	cfg       *config.Config
	log       *slog.Logger
	db        *database.DB
	metrics   *metrics.Metrics
	servers   []*http.Server
	listeners []net.Listener
	jobs      []job

	stopJobs context.CancelFunc
	jobsDone sync.WaitGroup
	close    sync.Once
}

// job is a background task of the process; it runs until ctx ends.
type job func(ctx context.Context)

// Open waits for the database (database.wait_timeout), opens it, applies
// the pending migrations when migrate.on_start asks, wires the services
// and listens on http.addr (and metrics.addr when it is set). Nothing runs
// in the background until Run; Close releases what Open opened, also when
// Run was never called.
func Open(ctx context.Context, o Options) (*Process, error) {
	cfg := o.Config
	d := cfg.Database
	if err := database.Wait(ctx, d.ConnString(), d.WaitEvery, d.WaitTimeout, o.Log); err != nil {
		return nil, err
	}
	db, err := database.Open(ctx, d, o.Log)
	if err != nil {
		return nil, err
	}
	p := &Process{cfg: cfg, log: o.Log, db: db, stopJobs: func() {}}
	p.warnPrivileged(ctx)
	if err := p.open(ctx, o); err != nil {
		_ = p.Close() // the error of the open is the one to report
		return nil, err
	}
	return p, nil
}

// open is Open once the database is open: migrations, wiring, listeners.
func (p *Process) open(ctx context.Context, o Options) error {
	if o.Migrations != nil && p.cfg.Migrate.OnStart {
		if err := p.migrateOnStart(ctx, o); err != nil {
			return err
		}
	}
	h, err := p.wire(ctx, o)
	if err != nil {
		return err
	}
	if o.Handler != nil {
		h.api = o.Handler
	}
	return p.listen(h)
}

// Addr is the address the API listens on (http.addr with its port
// chosen when it was 0).
func (p *Process) Addr() net.Addr { return p.listeners[0].Addr() }

// Run starts the background jobs and serves until ctx ends or a server
// fails by itself, then drains in-flight requests within
// http.shutdown_timeout. The jobs run until Close.
func (p *Process) Run(ctx context.Context) error {
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.stopJobs = cancel
	for _, j := range p.jobs {
		p.jobsDone.Add(1)
		go func() {
			defer p.jobsDone.Done()
			j(jctx)
		}()
	}
	served := make(chan error, len(p.servers))
	for i, srv := range p.servers {
		go func() { served <- srv.Serve(p.listeners[i]) }()
	}
	if len(p.listeners) > 1 {
		p.log.Info("metrics listening", "addr", p.listeners[1].Addr().String())
	}
	p.log.Info("listening", "addr", p.Addr().String())

	// Run until told to stop, or until one server fails by itself; either
	// way every server is shut down before Close closes the pool.
	var errs []error
	running := len(p.servers)
	select {
	case err := <-served:
		errs = appendServeError(errs, err)
		running--
	case <-ctx.Done():
	}
	errs = append(errs, p.shutdown()...)
	for ; running > 0; running-- {
		errs = appendServeError(errs, <-served)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.log.Info("stopped")
	return nil
}

// appendServeError keeps what a server returned unless it is the end that
// Shutdown asked for.
func appendServeError(errs []error, err error) []error {
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return append(errs, err)
	}
	return errs
}

// shutdown stops every server within http.shutdown_timeout. Shutdown
// closes the listeners at once, so new connections are refused, and waits
// for in-flight requests. Past the timeout, Close cuts the connections
// left: their requests' contexts end, their queries are cancelled and the
// pool can close instead of waiting for them.
func (p *Process) shutdown() []error {
	timeout := p.cfg.HTTP.ShutdownTimeout
	p.log.Info("shutting down", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	drained := make(chan error, len(p.servers))
	for _, srv := range p.servers {
		go func() {
			err := srv.Shutdown(sctx)
			if err != nil {
				_ = srv.Close() // cutting what is left; Shutdown's error is the one reported
			}
			drained <- err
		}()
	}
	var errs []error
	for range p.servers {
		if err := <-drained; err != nil {
			errs = append(errs, fmt.Errorf("graceful shutdown did not finish within %s (http.shutdown_timeout): %w", timeout, err))
		}
	}
	return errs
}

// Close stops the background jobs and waits for them, closes the
// listeners Run did not serve and then the database. It may be called
// more than once.
func (p *Process) Close() error {
	p.close.Do(func() {
		p.stopJobs()
		p.jobsDone.Wait()
		for _, ln := range p.listeners {
			_ = ln.Close() // a served listener is closed already; nothing to report
		}
		p.db.Close()
	})
	return nil
}
