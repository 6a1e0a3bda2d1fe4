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
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"accounts/bench/baseline"
	"accounts/internal/account"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
	"accounts/internal/metrics"
	"accounts/internal/password"
)

// serveCommand runs the API in a process of its own, configured like
// `accounts serve` (the same configuration sources, pool, HTTP server
// timeouts and JSON logger), over one of two implementations:
//
//	baseline  the hand-written pgxpool services of bench/baseline
//	ent       the service's own account.Users and account.Sessions, wired as
//	          cmd/accounts wires them; with --pprof-addr this is the process
//	          the benchmark profiles.
//
// It logs {"msg":"listening","addr":...} (and "pprof" when asked) on stderr.
func serveCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	impl := fs.String("impl", "baseline", "baseline or ent")
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

	var (
		users    httpapi.UserService
		sessions httpapi.SessionService
	)
	switch *impl {
	case "baseline":
		// The yardstick runs on a pgxpool of its own with the same
		// settings; the service's pool is reachable only through Ent.
		pc, err := database.PoolConfig(cfg.Database, log)
		if err != nil {
			return err
		}
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return err
		}
		defer pool.Close()
		users, sessions = baseline.New(pool, cfg.Auth.SessionTTL)
	case "ent":
		hasher, err := password.New(password.Options{
			Params: password.Params{
				Time: cfg.Password.Argon2Time, MemoryKiB: cfg.Password.Argon2MemoryKB, Threads: cfg.Password.Argon2Threads,
			},
			Pepper:        []byte(cfg.Password.Pepper),
			MaxConcurrent: cfg.Password.MaxConcurrent,
			MaxWait:       cfg.Password.MaxWait,
		})
		if err != nil {
			return err
		}
		users = account.NewUsers(db, hasher)
		sessions = account.NewSessions(db, hasher, cfg.Auth.SessionTTL, time.Now)
	default:
		return fmt.Errorf("--impl must be baseline or ent, not %q", *impl)
	}
	// The same per-request observation as the service (a Prometheus
	// histogram), so both sides pay for the same middleware.
	m := metrics.New()
	m.RegisterPool(db.Stat)
	var observe func(method, route string, status int, d time.Duration)
	if cfg.Metrics.Enabled {
		observe = m.ObserveHTTP
	}
	// Neither side is throttled: the baseline has no throttle, and the
	// load logs in far past any budget.
	handler, err := httpapi.New(httpapi.Deps{
		Users:       users,
		Sessions:    sessions,
		Log:         log,
		ObserveHTTP: observe,
		Config: httpapi.Config{
			CookieSecure:   cfg.Auth.CookieSecure,
			MaxBodyBytes:   cfg.HTTP.MaxBodyBytes,
			TrustedProxies: strings.Split(cfg.HTTP.TrustedProxies, ","),
		},
	})
	if err != nil {
		return err
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
