package config

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// validate returns every problem of the configuration, one validator per
// section, each problem naming its key and where the value came from.
func (c *Config) validate() []string {
	var p []string
	for _, v := range []func(*[]string){
		c.validateDatabase,
		c.validateLog,
		c.validateHTTP,
		c.validateAuth,
		c.validatePassword,
		c.validateMigrate,
		c.validateMetrics,
		c.validateMemoryLimit,
	} {
		v(&p)
	}
	return p
}

// validateDatabase checks the database section: the URL or its parts, the
// pool and its timeouts.
func (c *Config) validateDatabase(p *[]string) {
	d := c.Database
	if d.URL != "" {
		if _, err := pgx.ParseConfig(d.URL); err != nil {
			c.problem(p, "database.url", "malformed connection URL: %s", redactParseError(err))
		}
	} else {
		c.validateDatabaseParts(p)
	}
	if d.PoolSize < 0 {
		c.problem(p, "database.pool_size", "must not be negative, got %d", d.PoolSize)
	}
	if d.MaxOverflow < 0 {
		c.problem(p, "database.max_overflow", "must not be negative, got %d", d.MaxOverflow)
	}
	if d.PoolSize+d.MaxOverflow < 1 {
		c.problem(p, "database.max_overflow", "pool_size + max_overflow must allow at least one connection")
	}
	c.positive(p, map[string]time.Duration{
		"database.pool_timeout":  d.PoolTimeout,
		"database.pool_recycle":  d.PoolRecycle,
		"database.wait_timeout":  d.WaitTimeout,
		"database.wait_interval": d.WaitEvery,
	})
	c.oneOf(p, "database.exec_mode", d.ExecMode, "cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol")
}

// validateDatabaseParts checks host, port and name when no URL is given,
// and that the URL built from them parses.
func (c *Config) validateDatabaseParts(p *[]string) {
	d := c.Database
	before := len(*p)
	if d.Host == "" {
		c.problem(p, "database.host", "must not be empty")
	}
	if d.Port < 1 || d.Port > 65535 {
		c.problem(p, "database.port", "must be between 1 and 65535, got %d", d.Port)
	}
	if d.Name == "" {
		c.problem(p, "database.name", "must not be empty")
	}
	// Only worth saying when the parts themselves looked right: a bad
	// port already explains why the URL does not parse.
	if len(*p) == before {
		if _, err := pgx.ParseConfig(d.ConnString()); err != nil {
			c.problem(p, "database.sslmode", "the URL built from the parts does not parse: %s", redactParseError(err))
		}
	}
}

// validateLog checks the log section.
func (c *Config) validateLog(p *[]string) {
	c.oneOf(p, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	c.oneOf(p, "log.format", c.Log.Format, "auto", "text", "json")
}

// validateHTTP checks the http section: timeouts, limits and the public
// origins.
func (c *Config) validateHTTP(p *[]string) {
	h := c.HTTP
	c.positive(p, map[string]time.Duration{
		"http.read_header_timeout": h.ReadHeaderTimeout,
		"http.body_read_timeout":   h.BodyReadTimeout,
		"http.shutdown_timeout":    h.ShutdownTimeout,
		"http.ready_timeout":       h.ReadyTimeout,
	})
	if h.MaxBodyBytes < 1 {
		c.problem(p, "http.max_body_bytes", "must be positive, got %d", h.MaxBodyBytes)
	}
	if h.BodyBudgetBytes < h.MaxBodyBytes {
		c.problem(p, "http.body_budget_bytes", "must be at least http.max_body_bytes (%d, from %s), got %d", h.MaxBodyBytes, c.Source("http.max_body_bytes"), h.BodyBudgetBytes)
	}
	if h.BodyMinRate < 1 {
		c.problem(p, "http.body_min_rate", "must be at least 1 byte a second, got %d", h.BodyMinRate)
	}
	if h.MaxConnections < 1 {
		c.problem(p, "http.max_connections", "must be at least 1, got %d", h.MaxConnections)
	}
	if h.MaxConnsPerAddr < 0 {
		c.problem(p, "http.max_connections_per_address", "must not be negative (0: no cap but http.max_connections), got %d", h.MaxConnsPerAddr)
	}
	if h.MaxHeaderBytes < 1024 {
		c.problem(p, "http.max_header_bytes", "must be at least 1024, got %d", h.MaxHeaderBytes)
	}
	for _, o := range strings.Split(h.PublicOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" && !isOrigin(o) {
			c.problem(p, "http.public_origins", "%q is not an origin like https://accounts.example.com", o)
		}
	}
	for _, o := range strings.Split(h.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" && o != "*" && !isOrigin(o) {
			c.problem(p, "http.cors_origins", "%q is not an origin like https://app.example.com (or *)", o)
		}
	}
	if !isHeaderName(h.ForwardedHeader) {
		c.problem(p, "http.forwarded_header", "%q is not a header name like X-Forwarded-For", h.ForwardedHeader)
	}
	c.validateAddr(p, "http.addr", h.Addr)
}

// isHeaderName reports whether s is a non-empty HTTP field name (RFC 9110
// token) of letters, digits and dashes, the characters proxies use.
func isHeaderName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r != '-' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// validateMetrics checks the metrics section.
func (c *Config) validateMetrics(p *[]string) {
	if c.Metrics.Addr != "" {
		c.validateAddr(p, "metrics.addr", c.Metrics.Addr)
	}
}

// isOrigin reports whether o is a scheme, host and optional port, with no
// path beyond "/".
func isOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && (u.Path == "" || u.Path == "/")
}

// validateAuth checks the auth section: lifetimes, windows and throttle
// counts.
func (c *Config) validateAuth(p *[]string) {
	a := c.Auth
	c.positive(p, map[string]time.Duration{
		"auth.session_ttl":           a.SessionTTL,
		"auth.session_max_lifetime":  a.SessionMaxLifetime,
		"auth.signup_window":         a.SignUpWindow,
		"auth.login_throttle_window": a.LoginThrottleWindow,
		"auth.device_token_lifetime": a.DeviceTokenLifetime,
	})
	counts := map[string]int{
		"auth.login_failures_per_username":   a.LoginFailuresPerUsername,
		"auth.login_failures_per_address":    a.LoginFailuresPerAddress,
		"auth.login_failures_per_device":     a.LoginFailuresPerDevice,
		"auth.signups_per_address":           a.SignUpsPerAddress,
		"auth.password_failures_per_session": a.PasswordFailuresPerSession,
		"auth.verifications_per_account":     a.VerificationsPerAccount,
		"auth.verifications_per_address":     a.VerificationsPerAddress,
	}
	for _, key := range sortedKeys(counts) {
		if n := counts[key]; n < 0 {
			c.problem(p, key, "must not be negative (0 disables), got %d", n)
		}
	}
	// Others' failed logins spend an account's verifications, up to
	// their budgets twice over across the edge of a window: the owner's
	// logins must find some left.
	if spent := 2 * (a.LoginFailuresPerUsername + a.LoginFailuresPerDevice); a.VerificationsPerAccount > 0 && a.VerificationsPerAccount <= spent {
		c.problem(p, "auth.verifications_per_account", "must be 0 or more than twice auth.login_failures_per_username + auth.login_failures_per_device (%d), or failed logins by others could spend it all; got %d", spent, a.VerificationsPerAccount)
	}
	if a.ThrottleBuckets < 1 || a.ThrottleBuckets > 1<<24 {
		c.problem(p, "auth.throttle_buckets", "must be between 1 and %d, got %d", 1<<24, a.ThrottleBuckets)
	}
	if a.AuditRetention < 0 {
		c.problem(p, "auth.audit_retention", "must not be negative (0 keeps audit events forever), got %s", a.AuditRetention)
	}
	if a.SessionMaxLifetime > 0 && a.SessionMaxLifetime < a.SessionTTL {
		c.problem(p, "auth.session_max_lifetime", "must be at least auth.session_ttl (%s), got %s", a.SessionTTL, a.SessionMaxLifetime)
	}
}

// validatePassword checks the password section: Argon2 parameters and how
// many hashes may run or wait.
func (c *Config) validatePassword(p *[]string) {
	pw := c.Password
	c.positive(p, map[string]time.Duration{"password.max_wait": pw.MaxWait})
	if pw.Argon2Time < 1 {
		c.problem(p, "password.argon2_time", "must be at least 1, got %d", pw.Argon2Time)
	}
	if pw.Argon2MemoryKB < 8*uint32(max(pw.Argon2Threads, 1)) {
		c.problem(p, "password.argon2_memory_kib", "must be at least 8 KiB per thread, got %d", pw.Argon2MemoryKB)
	}
	if pw.Argon2Threads < 1 {
		c.problem(p, "password.argon2_threads", "must be at least 1, got %d", pw.Argon2Threads)
	}
	if pw.MaxConcurrent < 1 {
		c.problem(p, "password.max_concurrent", "must be at least 1, got %d", pw.MaxConcurrent)
	}
}

// validateMigrate checks the migrate section.
func (c *Config) validateMigrate(p *[]string) {
	if c.Migrate.StatementLockTimeout < 0 {
		c.problem(p, "migrate.statement_lock_timeout", "must not be negative, got %s", c.Migrate.StatementLockTimeout)
	}
	if c.Migrate.LockRetries < 0 {
		c.problem(p, "migrate.lock_retries", "must not be negative, got %d", c.Migrate.LockRetries)
	}
}

// positive reports each of durations (key to value) that is not above zero,
// in key order.
func (c *Config) positive(p *[]string, durations map[string]time.Duration) {
	for _, key := range sortedKeys(durations) {
		if durations[key] <= 0 {
			c.problem(p, key, "must be a positive duration, got %s", durations[key])
		}
	}
}

// oneOf reports value of key when it is none of allowed.
func (c *Config) oneOf(p *[]string, key, value string, allowed ...string) {
	if slices.Contains(allowed, value) {
		return
	}
	list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	c.problem(p, key, "must be %s; got %q", list, value)
}

// validateMemoryLimit checks that runtime.memory_limit_mib leaves room for
// the hashes that may run at once: below it the collector would run
// without pause (up to half the CPU) and the limit would still be passed.
func (c *Config) validateMemoryLimit(p *[]string) {
	limit, pw := c.Runtime.MemoryLimitMiB, c.Password
	if limit < 0 {
		c.problem(p, "runtime.memory_limit_mib", "must not be negative, got %d", limit)
		return
	}
	hashing := (int64(max(pw.MaxConcurrent, 1))*int64(pw.Argon2MemoryKB) + 1023) >> 10
	if limit > 0 && int64(limit) < hashing+MemoryFloorMiB {
		c.problem(p, "runtime.memory_limit_mib",
			"%d MiB leaves too little beside password hashing: password.max_concurrent (%d, from %s) × password.argon2_memory_kib (%d, from %s) is %d MiB, and the rest of the service needs %d MiB more; set at least %d, or 0 to leave the limit to GOMEMLIMIT",
			limit, pw.MaxConcurrent, c.Source("password.max_concurrent"), pw.Argon2MemoryKB, c.Source("password.argon2_memory_kib"),
			hashing, MemoryFloorMiB, hashing+MemoryFloorMiB)
	}
}
