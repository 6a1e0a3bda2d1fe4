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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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
	// Build labels accounts_build_info; empty fields are "unknown".
	Build metrics.BuildInfo
}

// Handlers are the HTTP handlers New builds. MetricsOnly is the /metrics
// endpoint when metrics.addr gives it a listener of its own, nil otherwise
// (then it is served with the API, or not at all when metrics.enabled is
// false).
type Handlers struct {
	API, MetricsOnly http.Handler
	// Metrics are the service's metrics, for what the caller measures
	// itself (serve's connection budget).
	Metrics *metrics.Metrics
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
	m.RegisterBuild(o.Build)
	m.RegisterPool(o.DB.Stat)
	hasher, err := NewHasher(cfg.Password, m.HasherRejected)
	if err != nil {
		return Handlers{}, err
	}
	m.RegisterHasher(hasher.InUse, hasher.Capacity())
	if id := hasher.KeyID(); id != "" {
		o.Log.Info("password hashes carry the pepper's key id", "key_id", id)
	}

	accountSessions := account.NewSessions(o.DB, hasher, cfg.Auth.SessionTTL, now)
	accountSessions.SetMaxLifetime(cfg.Auth.SessionMaxLifetime)
	accountSessions.SetLogger(o.Log)
	guard := newGuard(cfg, o.DB, now)
	accountSessions.SetGuard(guard)
	go purge(ctx, o.Log, purgeSteps(accountSessions, guard, account.NewAudit(o.DB), cfg.Auth.AuditRetention, now))
	var (
		users    httpapi.UserService    = account.NewUsers(o.DB, hasher)
		sessions httpapi.SessionService = accountSessions
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

	h := Handlers{Metrics: m}
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
	h.API, err = httpapi.New(httpapi.Deps{
		Users:       users,
		Audit:       account.NewAudit(o.DB),
		Sessions:    sessions,
		SignUps:     guard,
		Log:         o.Log,
		Ready:       ready,
		Metrics:     apiMetrics,
		ObserveHTTP: observe,
		Now:         now,
		Config: httpapi.Config{
			CookieSecure:   cfg.Auth.CookieSecure,
			DeviceLifetime: cfg.Auth.DeviceTokenLifetime,
			MaxBodyBytes:   cfg.HTTP.MaxBodyBytes,
			TrustedProxies: strings.Split(cfg.HTTP.TrustedProxies, ","),
			PublicOrigins:  strings.Split(cfg.HTTP.PublicOrigins, ","),
			CORSOrigins:    corsOrigins(cfg.HTTP.CORSOrigins),
			ReadyTimeout:   cfg.HTTP.ReadyTimeout,
			Docs:           cfg.HTTP.Docs,
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

// newGuard builds the login and sign-up throttle on the database. Device
// tokens and the buckets of addresses and names are keyed with
// auth.device_key, or else with a secret derived from the pepper, the one
// secret every replica already shares; without either a random key is
// used, and device tokens then hold only on the replica that issued them.
func newGuard(cfg *config.Config, db *database.DB, now func() time.Time) *account.Guard {
	auth := cfg.Auth
	m := hmac.New(sha256.New, []byte(cfg.Password.Pepper))
	m.Write([]byte("accounts device tokens v1"))
	key := m.Sum(nil)
	switch {
	case auth.DeviceKey != "":
		key = []byte(auth.DeviceKey)
	case cfg.Password.Pepper == "":
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms.
	}
	window := auth.LoginThrottleWindow
	limits := account.Limits{
		PerUsername:       throttle.Limit{Max: auth.LoginFailuresPerUsername, Window: window},
		PerAddress:        throttle.Limit{Max: auth.LoginFailuresPerAddress, Window: window},
		PerDevice:         throttle.Limit{Max: auth.LoginFailuresPerDevice, Window: window},
		SignUpsPerAddress: throttle.Limit{Max: auth.SignUpsPerAddress, Window: auth.SignUpWindow},
		DeviceLifetime:    auth.DeviceTokenLifetime,
	}
	return account.NewGuard(throttle.New(db.Ent, key, auth.ThrottleBuckets, now), limits, key)
}

// Expired sessions and throttle counters are purged every purgeInterval,
// in batches of purgeBatch rows, at most purgeBatches batches a round, so
// one round's work is bounded whatever piled up.
const (
	purgeInterval = time.Minute
	purgeBatch    = 1000
	purgeBatches  = 100
)

// purgeSteps are the batched deletes of the purge job: expired sessions,
// throttle counters whose windows passed, and audit events older than
// retention (none when retention is 0). Each deletes up to one batch.
func purgeSteps(sessions *account.Sessions, guard *account.Guard, audit *account.Audit, retention time.Duration, now func() time.Time) []func(context.Context) (int, error) {
	steps := []func(context.Context) (int, error){
		func(ctx context.Context) (int, error) { return sessions.Purge(ctx, purgeBatch) },
		func(ctx context.Context) (int, error) { return guard.Purge(ctx, now(), purgeBatch) },
	}
	if retention > 0 {
		steps = append(steps, func(ctx context.Context) (int, error) {
			return audit.Purge(ctx, now().Add(-retention), purgeBatch)
		})
	}
	return steps
}

// purge runs the purge steps every purgeInterval until ctx ends. Every
// replica runs it; the batches skip rows another replica is deleting
// (SKIP LOCKED), so each row is deleted once and no replica waits.
func purge(ctx context.Context, log *slog.Logger, steps []func(context.Context) (int, error)) {
	tick := time.NewTicker(purgeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, step := range steps {
			for range purgeBatches {
				n, err := step(ctx)
				if err != nil {
					if ctx.Err() == nil {
						log.Warn("purge of expired rows failed; retrying next round", "error", err.Error())
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

// corsOrigins splits http.cors_origins, dropping empty entries so that the
// default, "", turns CORS off.
func corsOrigins(list string) []string {
	var origins []string
	for _, o := range strings.Split(list, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	return origins
}
