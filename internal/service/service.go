// Package service assembles the service from its configuration: the
// password hasher, the account services on the database, the login
// throttles, the metrics and the HTTP handler. It is the one place where
// dependencies are wired; `accounts serve` and the benchmark's servers
// (bench/cmd/bench) both call New, so the benchmark measures the service
// as it is deployed, and its baseline differs from it only in the
// services it passes in.
package service

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"accounts/internal/account"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
	"accounts/internal/metrics"
	"accounts/internal/password"
	"accounts/internal/throttle"
)

// Options are what New needs besides the configuration.
type Options struct {
	Config *config.Config
	Log    *slog.Logger
	DB     *database.DB
	// Now is the clock of sessions, throttles and the HTTP layer: time.Now
	// in the process, a settable clock in tests.
	Now func() time.Time
	// Readiness, when set, builds the /readyz check; it gets the metrics
	// to report the migration state on. Nil answers ready whenever the
	// process runs.
	Readiness func(ctx context.Context, m *metrics.Metrics) (func(context.Context) error, error)
	// Services, when set, replaces the account services built on DB:
	// the benchmark's baseline (bench/baseline) passes its own here.
	Services func(db *database.DB) (httpapi.UserService, httpapi.SessionService)
}

// Handlers are the HTTP handlers New builds. MetricsOnly is the /metrics
// endpoint when metrics.addr gives it a listener of its own, nil otherwise
// (then it is served with the API, or not at all when metrics.enabled is
// false).
type Handlers struct {
	API, MetricsOnly http.Handler
}

// New wires the services and the HTTP API together. It also sets the
// process's soft memory limit (runtime.memory_limit_mib), which the
// password hashing relies on.
func New(ctx context.Context, o Options) (Handlers, error) {
	cfg := o.Config
	if mib := cfg.Runtime.MemoryLimitMiB; mib > 0 {
		debug.SetMemoryLimit(int64(mib) << 20)
	}
	if cfg.Password.Pepper == "" {
		o.Log.Warn("password.pepper is empty: password hashes are not peppered; set ACCOUNTS_PASSWORD_PEPPER")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	m := metrics.New()
	m.RegisterPool(o.DB.Stat)
	hasher, err := NewHasher(cfg.Password, m.HasherRejected)
	if err != nil {
		return Handlers{}, err
	}
	m.RegisterHasher(hasher.InUse, hasher.Capacity())

	var (
		users    httpapi.UserService    = account.NewUsers(o.DB, hasher)
		sessions httpapi.SessionService = account.NewSessions(o.DB, hasher, cfg.Auth.SessionTTL, now)
	)
	if o.Services != nil {
		users, sessions = o.Services(o.DB)
	}
	var ready func(context.Context) error
	if o.Readiness != nil {
		if ready, err = o.Readiness(ctx, m); err != nil {
			return Handlers{}, err
		}
	}

	var h Handlers
	var apiMetrics http.Handler
	var observe func(method, route string, status int, d time.Duration)
	if cfg.Metrics.Enabled {
		observe = m.ObserveHTTP
		if cfg.Metrics.Addr == "" {
			apiMetrics = m.Handler()
		} else {
			h.MetricsOnly = m.Handler()
		}
	}
	window := cfg.Auth.LoginThrottleWindow
	h.API, err = httpapi.New(httpapi.Deps{
		Users:            users,
		Sessions:         sessions,
		Log:              o.Log,
		Ready:            ready,
		UsernameThrottle: throttle.New(cfg.Auth.LoginFailuresPerUsername, window, now),
		AddressThrottle:  throttle.New(cfg.Auth.LoginFailuresPerAddress, window, now),
		Metrics:          apiMetrics,
		ObserveHTTP:      observe,
		Now:              now,
		Config: httpapi.Config{
			CookieSecure:   cfg.Auth.CookieSecure,
			MaxBodyBytes:   cfg.HTTP.MaxBodyBytes,
			TrustedProxies: strings.Split(cfg.HTTP.TrustedProxies, ","),
			ReadyTimeout:   cfg.HTTP.ReadyTimeout,
		},
	})
	if err != nil {
		return Handlers{}, err
	}
	return h, nil
}

// NewHasher builds the password hasher from the configuration; serve and
// the users command share it, so both hash alike. onBusy may be nil.
func NewHasher(cfg config.Password, onBusy func()) (*password.Hasher, error) {
	return password.New(password.Options{
		Params: password.Params{
			Time:      cfg.Argon2Time,
			MemoryKiB: cfg.Argon2MemoryKB,
			Threads:   cfg.Argon2Threads,
		},
		Pepper:        []byte(cfg.Pepper),
		MaxConcurrent: cfg.MaxConcurrent,
		MaxWait:       cfg.MaxWait,
		OnBusy:        onBusy,
	})
}
