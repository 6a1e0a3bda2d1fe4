package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"accounts/bench/baseline"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
	"accounts/internal/service"
)

// serveCommand runs the API in a process of its own, wired by the
// service's own wiring function (internal/service.New, as `accounts serve`
// is) from the same configuration sources, with the same HTTP server
// timeouts and JSON logger, over one of two implementations:
//
//	baseline  the hand-written pgxpool services of bench/baseline, passed to
//	          service.New in place of the account services; everything else
//	          (router, middleware, metrics, throttles, hasher) is the service's
//	ent       the service exactly as wired for `accounts serve`; with
//	          --pprof-addr this is the process the benchmark profiles.
//	floor     httpapi.Floor over the baseline's pool and statements: a bare
//	          Gin handler, no middleware, no router of the service's, so
//	          nothing of the request path being measured.
//
// It logs {"msg":"listening","addr":...} (and "pprof" when asked) on stderr.
func serveCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	impl := fs.String("impl", "baseline", "baseline, ent or floor")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	pprofAddr := fs.String("pprof-addr", "", "serve net/http/pprof on this address too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(config.Sources{Getenv: os.Getenv})
	if err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	// As in the service: JSON lines, each tagged with its request id.
	log := slog.New(httpapi.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	db, err := database.Open(ctx, cfg.Database, log)
	if err != nil {
		return err
	}
	defer db.Close()

	opts := service.Options{Config: cfg, Log: log, DB: db, Now: time.Now}
	var handler http.Handler
	switch *impl {
	case "ent":
	case "floor":
		pool, err := baseline.OpenPool(ctx, cfg.Database, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		handler = httpapi.Floor(baseline.FloorGet(baseline.New(pool, cfg.Auth.SessionTTL)))
	case "baseline":
		// The yardstick runs on a pgxpool of its own with the same
		// settings: the service's pool is reachable only through Ent.
		pool, err := baseline.OpenPool(ctx, cfg.Database, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		opts.Services = func(*database.DB) (httpapi.UserService, httpapi.SessionService) {
			return baseline.New(pool, cfg.Auth.SessionTTL)
		}
	default:
		return fmt.Errorf("--impl must be baseline, ent or floor, not %q", *impl)
	}
	if handler == nil {
		h, err := service.New(ctx, opts)
		if err != nil {
			return err
		}
		handler = h.API
	}

	if *pprofAddr != "" {
		pln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go func() { _ = http.Serve(pln, mux) }()
		log.Info("pprof", "addr", pln.Addr().String())
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
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
	log.Info("listening", "addr", ln.Addr().String(), "impl", *impl)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
