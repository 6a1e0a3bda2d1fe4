package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"accounts/internal/account"
	"accounts/internal/config"
	"accounts/internal/httpapi"
	"accounts/internal/metrics"
	"accounts/internal/password"
	"accounts/internal/throttle"
)

// handlers are the HTTP handlers wire builds. metricsOnly is the /metrics
// endpoint when metrics.addr gives it a listener of its own, nil otherwise
// (then it is served with the API, or not at all when metrics.enabled is
// false).
type handlers struct {
	api, metricsOnly http.Handler
}

// wire builds the services and the HTTP API on the open database, and
// the background jobs Run starts. It also sets the process's soft memory
// limit (runtime.memory_limit_mib), which the password hashing relies on.
func (p *Process) wire(ctx context.Context, o Options) (handlers, error) {
	cfg := p.cfg
	if mib := cfg.Runtime.MemoryLimitMiB; mib > 0 {
		debug.SetMemoryLimit(int64(mib) << 20)
	}
	// Whether cookies are Secure decides whether a browser sends them over
	// plain HTTP: said at every start, with why.
	p.log.Info("cookies", "secure", cfg.Auth.CookieSecure, "auth.cookie_secure", cfg.Source("auth.cookie_secure"))
	if cfg.Password.Pepper == "" {
		p.log.Warn("password.pepper is empty: password hashes are not peppered; set ACCOUNTS_PASSWORD_PEPPER")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	p.metrics = metrics.New()
	p.metrics.RegisterBuild(o.Build)
	p.metrics.RegisterPool(p.db.Stat)
	hasher, err := NewHasher(cfg.Password, p.metrics.HasherRejected)
	if err != nil {
		return handlers{}, err
	}
	p.metrics.RegisterHasher(hasher.InUse, hasher.Capacity())
	if id := hasher.KeyID(); id != "" {
		p.log.Info("password hashes carry the pepper's key id", "key_id", id)
	}

	accountSessions := account.NewSessions(p.db, hasher, cfg.Auth.SessionTTL, now)
	accountSessions.SetMaxLifetime(cfg.Auth.SessionMaxLifetime)
	accountSessions.SetLogger(p.log)
	guard := p.newGuard(now)
	accountSessions.SetGuard(guard)
	audit := account.NewAudit(p.db)
	accountUsers := account.NewUsers(p.db, hasher)
	accountUsers.SetClock(now)
	p.jobs = append(p.jobs, p.purgeJob(purgeSteps(purgeOf{accountSessions, accountUsers, guard, audit}, cfg.Auth.AuditRetention, now)))
	var (
		users    httpapi.UserService    = accountUsers
		sessions httpapi.SessionService = accountSessions
	)
	if o.Services != nil {
		users, sessions = o.Services(p.db)
	}
	d := httpapi.Deps{
		Users: users, Audit: audit, Sessions: sessions, SignUps: guard,
		Log: p.log, Now: now,
	}
	if o.Migrations != nil {
		r, err := p.readiness(ctx, o)
		if err != nil {
			return handlers{}, err
		}
		d.Ready, d.Behind = r.Check, r.Behind
	}
	return p.handlers(d)
}

// handlers completes d with the metrics and the http.* settings and
// builds the API, with /metrics on it or apart as metrics.* say.
func (p *Process) handlers(d httpapi.Deps) (handlers, error) {
	cfg := p.cfg
	var h handlers
	if cfg.Metrics.Enabled {
		d.ObserveHTTP = p.metrics.ObserveHTTP
		if cfg.Metrics.Addr == "" {
			d.Metrics = p.metrics.Handler()
		} else {
			h.metricsOnly = p.metrics.Handler()
		}
	}
	d.Config = httpapi.Config{
		CookieSecure:    cfg.Auth.CookieSecure,
		DeviceLifetime:  cfg.Auth.DeviceTokenLifetime,
		MaxBodyBytes:    cfg.HTTP.MaxBodyBytes,
		BodyBudgetBytes: cfg.HTTP.BodyBudgetBytes,
		BodyReadTimeout: cfg.HTTP.BodyReadTimeout,
		BodyMinRate:     cfg.HTTP.BodyMinRate,
		TrustedProxies:  strings.Split(cfg.HTTP.TrustedProxies, ","),
		ForwardedHeader: cfg.HTTP.ForwardedHeader,
		PublicOrigins:   strings.Split(cfg.HTTP.PublicOrigins, ","),
		CORSOrigins:     corsOrigins(cfg.HTTP.CORSOrigins),
		ReadyTimeout:    cfg.HTTP.ReadyTimeout,
		Docs:            cfg.HTTP.Docs,
	}
	var err error
	h.api, err = httpapi.New(d)
	return h, err
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
// tokens and the buckets of addresses and names are keyed with a key every
// replica has alike, never one of its own: auth.device_key, or else a
// secret derived from the pepper, or without either the key kept in the
// database (account.NewSharedGuard).
func (p *Process) newGuard(now func() time.Time) *account.Guard {
	cfg := p.cfg
	auth := cfg.Auth
	window := auth.LoginThrottleWindow
	limits := account.Limits{
		PerUsername:       throttle.Limit{Max: auth.LoginFailuresPerUsername, Window: window},
		PerAddress:        throttle.Limit{Max: auth.LoginFailuresPerAddress, Window: window},
		PerDevice:         throttle.Limit{Max: auth.LoginFailuresPerDevice, Window: window},
		SignUpsPerAddress: throttle.Limit{Max: auth.SignUpsPerAddress, Window: auth.SignUpWindow},
		DeviceLifetime:    auth.DeviceTokenLifetime,

		PasswordFailuresPerSession: throttle.Limit{Max: auth.PasswordFailuresPerSession, Window: window},
		VerificationsPerAccount:    throttle.Limit{Max: auth.VerificationsPerAccount, Window: window},
		VerificationsPerAddress:    throttle.Limit{Max: auth.VerificationsPerAddress, Window: window},
	}
	store := throttle.New(p.db.Ent, nil, auth.ThrottleBuckets, now)
	switch {
	case auth.DeviceKey != "":
		return account.NewGuard(store, limits, []byte(auth.DeviceKey))
	case cfg.Password.Pepper != "":
		m := hmac.New(sha256.New, []byte(cfg.Password.Pepper))
		m.Write([]byte("accounts device tokens v1"))
		return account.NewGuard(store, limits, m.Sum(nil))
	}
	p.log.Info("auth.device_key and password.pepper are empty: device tokens and throttle buckets are keyed with the key kept in the database (table shared_keys)")
	return account.NewSharedGuard(store, limits, p.db)
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
