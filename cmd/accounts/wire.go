package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"accounts/internal/account"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/httpapi"
	"accounts/internal/metrics"
	"accounts/internal/password"
	"accounts/internal/throttle"
)

// clockKey is the context key under which end-to-end tests hand run their
// own clock, so that session expiry and sliding extension are tested
// without sleeping. Only tests set it; the process itself never does, and
// nothing outside the process can, so it is no back door.
type clockKey struct{}

// clockFrom returns the clock in ctx, or time.Now.
func clockFrom(ctx context.Context) func() time.Time {
	if now, ok := ctx.Value(clockKey{}).(func() time.Time); ok && now != nil {
		return now
	}
	return time.Now
}

// newHasher builds the password hasher from the configuration; serve and
// the users command share it, so both hash alike.
func newHasher(cfg config.Password, onBusy func()) (*password.Hasher, error) {
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

// newHandler wires the services and the HTTP API together. It is the one
// place where dependencies are assembled. metricsOnly is the /metrics
// endpoint when metrics.addr gives it a listener of its own, nil otherwise
// (then it is served with the API, or not at all when metrics.enabled is
// false).
func (a *app) newHandler(ctx context.Context, db *database.DB, dir atlasmigrate.Dir) (api, metricsOnly http.Handler, err error) {
	cfg := a.cfg
	if cfg.Password.Pepper == "" {
		a.log.Warn("password.pepper is empty: password hashes are not peppered; set ACCOUNTS_PASSWORD_PEPPER")
	}
	if cfg.Auth.LoginFailuresPerUsername < 0 || cfg.Auth.LoginFailuresPerAddress < 0 || cfg.Auth.LoginThrottleWindow <= 0 {
		return nil, nil, errors.New("auth.login_failures_per_username and auth.login_failures_per_address must not be negative, and auth.login_throttle_window must be positive")
	}
	m := metrics.New()
	m.RegisterPool(db.Stat)
	hasher, err := newHasher(cfg.Password, m.HasherRejected)
	if err != nil {
		return nil, nil, err
	}
	m.RegisterHasher(hasher.InUse, hasher.Capacity())

	now := clockFrom(ctx)
	users := account.NewUsers(db, hasher)
	sessions := account.NewSessions(db, hasher, cfg.Auth.SessionTTL, now)

	ready, err := a.readiness(ctx, db, dir, m)
	if err != nil {
		return nil, nil, err
	}

	var apiMetrics http.Handler
	var observe func(method, route string, status int, d time.Duration)
	if cfg.Metrics.Enabled {
		observe = m.ObserveHTTP
		if cfg.Metrics.Addr == "" {
			apiMetrics = m.Handler()
		} else {
			metricsOnly = m.Handler()
		}
	}
	window := cfg.Auth.LoginThrottleWindow
	api, err = httpapi.New(httpapi.Deps{
		Users:            users,
		Sessions:         sessions,
		Log:              a.log,
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
			Docs:           cfg.HTTP.Docs,
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return api, metricsOnly, nil
}
