package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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
	sessions.SetMaxLifetime(cfg.Auth.SessionMaxLifetime)
	guard := a.newGuard(db, now)
	sessions.SetGuard(guard)
	go a.purge(ctx, sessions, guard, now)

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
	api, err = httpapi.New(httpapi.Deps{
		Users:       users,
		Sessions:    sessions,
		SignUps:     guard,
		Log:         a.log,
		Ready:       ready,
		Metrics:     apiMetrics,
		ObserveHTTP: observe,
		Now:         now,
		Config: httpapi.Config{
			CookieSecure:   cfg.Auth.CookieSecure,
			MaxBodyBytes:   cfg.HTTP.MaxBodyBytes,
			TrustedProxies: strings.Split(cfg.HTTP.TrustedProxies, ","),
			PublicOrigins:  strings.Split(cfg.HTTP.PublicOrigins, ","),
			ReadyTimeout:   cfg.HTTP.ReadyTimeout,
			Docs:           cfg.HTTP.Docs,
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return api, metricsOnly, nil
}

// newGuard builds the login and sign-up throttle on the database. Device
// tokens and the buckets of addresses are keyed with a secret derived from
// the pepper, the one secret every replica already shares; without a
// pepper a random key is used, and device tokens then hold only on the
// replica that issued them.
func (a *app) newGuard(db *database.DB, now func() time.Time) *account.Guard {
	cfg := a.cfg.Auth
	m := hmac.New(sha256.New, []byte(a.cfg.Password.Pepper))
	m.Write([]byte("accounts device tokens v1"))
	key := m.Sum(nil)
	if a.cfg.Password.Pepper == "" {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms.
	}
	window := cfg.LoginThrottleWindow
	limits := account.Limits{
		PerUsername:       throttle.Limit{Max: cfg.LoginFailuresPerUsername, Window: window},
		PerAddress:        throttle.Limit{Max: cfg.LoginFailuresPerAddress, Window: window},
		PerDevice:         throttle.Limit{Max: cfg.LoginFailuresPerDevice, Window: window},
		SignUpsPerAddress: throttle.Limit{Max: cfg.SignUpsPerAddress, Window: cfg.SignUpWindow},
	}
	return account.NewGuard(throttle.New(db.Ent, key, cfg.ThrottleBuckets, now), limits, key)
}

// Expired sessions and throttle counters are purged every purgeInterval,
// in batches of purgeBatch rows, at most purgeBatches batches a round, so
// one round's work is bounded whatever piled up.
const (
	purgeInterval = time.Minute
	purgeBatch    = 1000
	purgeBatches  = 100
)

// purge deletes expired sessions and throttle counters until ctx ends.
// Every replica runs it; the batches skip rows another replica is
// deleting (SKIP LOCKED), so each row is deleted once and no replica waits.
func (a *app) purge(ctx context.Context, sessions *account.Sessions, guard *account.Guard, now func() time.Time) {
	tick := time.NewTicker(purgeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, step := range []func() (int, error){
			func() (int, error) { return sessions.Purge(ctx, purgeBatch) },
			func() (int, error) { return guard.Purge(ctx, now(), purgeBatch) },
		} {
			for range purgeBatches {
				n, err := step()
				if err != nil {
					if ctx.Err() == nil {
						a.log.Warn("purge of expired rows failed; retrying next round", "error", err.Error())
					}
					break
				}
				if n < purgeBatch {
					break
				}
			}
		}
	}
}
