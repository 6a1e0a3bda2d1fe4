package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"accounts/bench/baseline"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
	"accounts/internal/service"
)

// serveCommand runs the API in a process of its own, built and run by the
// service's own wiring (internal/service Open, Run and Close, as `accounts
// serve` is) from the same configuration sources, with the same HTTP
// servers, connection budget, logger and background jobs, over one of
// three implementations:
//
//	baseline  the hand-written pgxpool services of bench/baseline, passed to
//	          the service in place of the account services; everything else
//	          (router, middleware, metrics, throttles, hasher) is the service's
//	ent       the service exactly as wired for `accounts serve`; with
//	          --pprof-addr this is the process the benchmark profiles.
//	floor     httpapi.Floor over the baseline's pool and statements, served
//	          in place of the API: a bare Gin handler, no middleware, no
//	          router of the service's, so nothing of the request path being
//	          measured.
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
	cfg.HTTP.Addr = *addr
	log := service.NewLogger(cfg.Log, os.Stderr)
	opts := service.Options{Config: cfg, Log: log, Now: time.Now}
	if *impl != "ent" {
		// The yardsticks run on a pgxpool of their own with the same
		// settings: the service's pool is reachable only through Ent.
		pool, err := baseline.OpenPool(ctx, cfg.Database, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := swapParts(&opts, *impl, pool, cfg.Auth.SessionTTL); err != nil {
			return err
		}
	}
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr, log); err != nil {
			return err
		}
	}
	p, err := service.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = p.Close() }() // Close reports nothing Run has not
	log.Info("implementation", "impl", *impl)
	return p.Run(ctx)
}

// swapParts sets the options of a yardstick: the baseline's services, or
// the floor's handler in place of the API.
func swapParts(opts *service.Options, impl string, pool *pgxpool.Pool, ttl time.Duration) error {
	switch impl {
	case "baseline":
		opts.Services = func(*database.DB) (httpapi.UserService, httpapi.SessionService) {
			return baseline.New(pool, ttl)
		}
	case "floor":
		opts.Handler = httpapi.Floor(baseline.FloorGet(baseline.New(pool, ttl)))
	default:
		return fmt.Errorf("--impl must be baseline, ent or floor, not %q", impl)
	}
	return nil
}

// servePprof serves net/http/pprof's index and CPU profile on addr for
// the life of the process.
func servePprof(addr string, log *slog.Logger) error {
	pln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.Serve(pln, mux) }() // it serves until the process ends; its error has no one to go to
	log.Info("pprof", "addr", pln.Addr().String())
	return nil
}
