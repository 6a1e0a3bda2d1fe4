// Package config loads the service configuration once, from built-in
// defaults, an optional YAML file, the environment and command-line flags,
// each overriding the one before, into one validated struct.
package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of the service. Every leaf field is one
// key; its koanf tag gives the key, its help tag the description that
// docs/configuration.md prints (go generate ./internal/config writes it).
type Config struct {
	HTTP     HTTP     `koanf:"http"`
	Database Database `koanf:"database"`
	Log      Log      `koanf:"log"`
	Auth     Auth     `koanf:"auth"`
	Password Password `koanf:"password"`
	Migrate  Migrate  `koanf:"migrate"`
	Metrics  Metrics  `koanf:"metrics"`
	Runtime  Runtime  `koanf:"runtime"`
	Dev      Dev      `koanf:"dev"`

	// sources maps each key to the source that set it last.
	sources map[string]string
}

// HTTP holds the settings of the HTTP server.
type HTTP struct {
	Addr              string        `koanf:"addr" help:"Address the API listens on (host:port; port 0 picks a free one)."`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout" help:"Longest time to read request headers."`
	ReadTimeout       time.Duration `koanf:"read_timeout" help:"Longest time to read a whole request."`
	WriteTimeout      time.Duration `koanf:"write_timeout" help:"Longest time to write a response."`
	IdleTimeout       time.Duration `koanf:"idle_timeout" help:"How long an idle keep-alive connection stays open (a proxy in front should keep its own upstream idle timeout below it); idle connections are also the first closed when http.max_connections is reached."`
	MaxConnections    int           `koanf:"max_connections" help:"Connections the API holds open at once; past it the longest-idle one is closed to make room, or the new one when none is idle. serve lowers it (with a warning) to fit the open-file limit."`
	MaxConnsPerAddr   int           `koanf:"max_connections_per_address" help:"Of http.max_connections, how many one client address (an IPv6 /64) may hold; the addresses of http.trusted_proxies are exempt. 0: no cap but max_connections."`
	MaxHeaderBytes    int           `koanf:"max_header_bytes" help:"Largest request header block accepted."`
	MaxBodyBytes      int64         `koanf:"max_body_bytes" help:"Largest request body accepted (413 above)."`
	BodyBudgetBytes   int64         `koanf:"body_budget_bytes" help:"Bytes that the request bodies read at once may hold together (at least max_body_bytes); a body over 4 KiB that does not fit waits up to a second, then is answered 503 with Retry-After. Bodies of 4 KiB or less (every normal request) are not counted: max_connections of them hold at most 4 KiB each."`
	BodyReadTimeout   time.Duration `koanf:"body_read_timeout" help:"Longest pause between two reads of a request body (nginx's client_body_timeout); a body must also arrive within this plus its size at body_min_rate. Slower bodies are answered 400 bad_request and their connection closed."`
	BodyMinRate       int           `koanf:"body_min_rate" help:"Slowest rate, in bytes per second, a request body may arrive at beyond body_read_timeout."`
	ShutdownTimeout   time.Duration `koanf:"shutdown_timeout" help:"How long in-flight requests may run after SIGINT/SIGTERM."`
	ReadyTimeout      time.Duration `koanf:"ready_timeout" help:"Longest time /readyz waits for the database before answering 503."`
	PublicOrigins     string        `koanf:"public_origins" help:"Comma-separated origins (scheme://host[:port]) the service is reached at besides its own Host; a cookie-authenticated state change that a browser marks cross-site or same-site (Sec-Fetch-Site, or an Origin that is not the request's Host) passes the CSRF check only with one of them as Origin. Empty: only the service's own pages pass."`
	CORSOrigins       string        `koanf:"cors_origins" help:"Comma-separated origins (scheme://host[:port]) whose browser scripts may call the API, with credentials; * allows any origin without credentials. Empty (the default): CORS is off."`
	TrustedProxies    string        `koanf:"trusted_proxies" help:"Comma-separated addresses or CIDRs of reverse proxies whose http.forwarded_header names the client (used by throttling, hashing shares and the audit trail); empty trusts none and uses the peer address."`
	ForwardedHeader   string        `koanf:"forwarded_header" help:"The one header, in X-Forwarded-For's format, that a trusted proxy names the client in; any other (X-Real-IP included) is ignored. A proxy must set or overwrite it, never pass on what the client sent."`
	Docs              bool          `koanf:"docs" help:"Serve the interactive API documentation (Swagger UI, no CDN) at /docs; dev turns it on unless set."`
}

// Database holds the connection and pool settings. The pool keys keep the
// names of the SQLAlchemy settings this service replaces; internal/database
// documents how each maps onto pgxpool.
type Database struct {
	URL         string        `koanf:"url" env:"DATABASE_URL" secret:"true" help:"Full connection URL; when set it wins over host, port, user, password and name."`
	Host        string        `koanf:"host" help:"Server host name, IP address, or socket directory (starting with /)."`
	Port        int           `koanf:"port" help:"Server port."`
	User        string        `koanf:"user" help:"User name."`
	Password    string        `koanf:"password" secret:"true" help:"Password."`
	Name        string        `koanf:"name" help:"Database name."`
	SSLMode     string        `koanf:"sslmode" help:"libpq sslmode for the URL built from the parts (disable, prefer, require, verify-full...)."`
	PoolSize    int           `koanf:"pool_size" help:"Connections kept open even when idle (pgxpool MinConns)."`
	MaxOverflow int           `koanf:"max_overflow" help:"Extra connections opened under load and closed when idle; the pool holds at most pool_size + max_overflow."`
	PoolTimeout time.Duration `koanf:"pool_timeout" help:"Longest wait for a free connection before the request fails with 503 service_unavailable (logged as database connection pool exhausted)."`
	PoolRecycle time.Duration `koanf:"pool_recycle" help:"Lifetime of a connection before it is replaced (pgxpool MaxConnLifetime)."`
	PrePing     bool          `koanf:"pool_pre_ping" help:"Check a connection that sat idle before handing it out."`
	Echo        bool          `koanf:"echo" help:"Log every SQL statement with its duration."`
	EchoPool    bool          `koanf:"echo_pool" help:"Log pool events: acquire, release, connect, close."`
	ExecMode    string        `koanf:"exec_mode" help:"pgx query mode: cache_statement (default), cache_describe, describe_exec, exec, or simple_protocol (for PgBouncer in transaction mode)."`
	WaitTimeout time.Duration `koanf:"wait_timeout" help:"How long wait-db and serve retry before giving up on the database."`
	WaitEvery   time.Duration `koanf:"wait_interval" help:"Pause between two tries of wait-db."`
}

// Log holds the logging settings.
type Log struct {
	Level  string `koanf:"level" help:"debug, info, warn or error."`
	Format string `koanf:"format" help:"text, json, or auto (text on a terminal, JSON otherwise)."`
}

// Auth holds the session and throttling settings.
type Auth struct {
	SessionTTL         time.Duration `koanf:"session_ttl" help:"Lifetime of a session; a request with less than 20% left extends it."`
	SessionMaxLifetime time.Duration `koanf:"session_max_lifetime" help:"Absolute lifetime of a session from its login; sliding extension never goes past it."`
	AuditRetention     time.Duration `koanf:"audit_retention" help:"How long audit events are kept; older ones are deleted by the purge job, in batches. 0 keeps them forever."`
	CookieSecure       bool          `koanf:"cookie_secure" help:"Mark the cookies Secure and give them the __Host- prefix, as the API must be reached over HTTPS. Unset, it is true unless http.addr listens only on loopback (then false, as serve logs at start)."`
	// The login throttle keeps its counters in PostgreSQL, shared by every
	// replica (package throttle).
	LoginFailuresPerUsername   int           `koanf:"login_failures_per_username" help:"Failed logins for one username, from all clients without a device token for it, within login_throttle_window before such logins answer 429 (0 disables)."`
	LoginFailuresPerAddress    int           `koanf:"login_failures_per_address" help:"Failed logins from one client address (without a device token) within login_throttle_window before further logins answer 429 (0 disables)."`
	LoginFailuresPerDevice     int           `koanf:"login_failures_per_device" help:"Failed logins that all trusted devices of one user (clients presenting a device token of the user) share within login_throttle_window before they answer 429 (0 disables); N tokens buy no more guesses than one."`
	PasswordFailuresPerSession int           `koanf:"password_failures_per_session" help:"Wrong current passwords one session may send to the password change within login_throttle_window before it answers 429 (0 disables); a session whose client presents a device token of its user gets login_failures_per_device instead. No other client can spend it."`
	VerificationsPerAccount    int           `koanf:"verifications_per_account" help:"Password verifications (logins and password changes, right or wrong) of one user within login_throttle_window before further ones answer 429 (0 disables); more than twice login_failures_per_username + login_failures_per_device, so others' failed logins cannot spend it all."`
	VerificationsPerAddress    int           `koanf:"verifications_per_address" help:"Password verifications (logins, right or wrong) from one client address within login_throttle_window before further ones answer 429 (0 disables)."`
	DeviceKey                  string        `koanf:"device_key" secret:"true" help:"Key that signs device tokens and keys the throttle's buckets, the same on every replica (at least 32 bytes); empty derives it from password.pepper, or without a pepper uses a random key drawn once and kept in the database (table shared_keys), which every replica reads."`
	DeviceTokenLifetime        time.Duration `koanf:"device_token_lifetime" help:"How long after its login a device token is trusted; a password set or change, a deactivation and revoke-sessions end its trust sooner."`
	LoginThrottleWindow        time.Duration `koanf:"login_throttle_window" help:"Window over which failed logins are counted; a throttled client may retry when it ends."`
	SignUpsPerAddress          int           `koanf:"signups_per_address" help:"Sign-ups (taken names included) from one client address within signup_window before further sign-ups answer 429 (0 disables)."`
	SignUpWindow               time.Duration `koanf:"signup_window" help:"Window over which sign-ups are counted."`
	ThrottleBuckets            int           `koanf:"throttle_buckets" help:"Buckets that client addresses and unknown usernames are hashed into, per kind; bounds the throttle table at 3 × users + sessions + 5 × this many rows."`
}

// Password holds the password hashing settings.
type Password struct {
	Pepper         string        `koanf:"pepper" secret:"true" help:"Server-side secret mixed into every password hash (HMAC key), at least 32 bytes when set (serve refuses shorter ones and the placeholder of .env.example). Changing it invalidates all passwords."`
	Argon2Time     uint32        `koanf:"argon2_time" help:"argon2id passes."`
	Argon2MemoryKB uint32        `koanf:"argon2_memory_kib" help:"argon2id memory per hash, in KiB; at most max_concurrent hashes hold it at once."`
	Argon2Threads  uint8         `koanf:"argon2_threads" help:"argon2id lanes."`
	MaxConcurrent  int           `koanf:"max_concurrent" help:"Hashes computed at once, each holding argon2_memory_kib; further requests wait."`
	MaxWait        time.Duration `koanf:"max_wait" help:"Longest wait for a hashing slot before answering 503."`
}

// Migrate holds the migration settings shared by serve and migrate.
type Migrate struct {
	OnStart bool   `koanf:"on_start" help:"serve applies pending migrations (under the advisory lock) before it takes traffic."`
	Dir     string `koanf:"dir" help:"Migration directory; when it does not exist, the copy embedded in the binary is used."`
	DevURL  string `koanf:"dev_url" secret:"true" help:"Dev database for migrate diff/down/check; empty means a throw-away database on the configured server."`
	// StatementLockTimeout and LockRetries keep a migration statement that
	// waits for a table lock from queueing the service's requests behind it.
	StatementLockTimeout time.Duration `koanf:"statement_lock_timeout" help:"lock_timeout of each statement migrate apply (and serve --migrate) runs: how long it may wait for a table lock, while requests needing that table queue behind it; 0 waits indefinitely."`
	LockRetries          int           `koanf:"lock_retries" help:"How often migrate apply retries a statement that hit lock_timeout, waiting 1s, 2s, 4s... (up to 10s) in between; 0 gives up at once."`
}

// Metrics holds the Prometheus endpoint settings.
type Metrics struct {
	Enabled bool   `koanf:"enabled" help:"Serve Prometheus metrics at /metrics."`
	Addr    string `koanf:"addr" help:"Separate listen address for /metrics (loopback by default, so only this host scrapes it); empty serves it on http.addr, to anyone who reaches the API."`
}

// Runtime holds the settings of the Go runtime that serve applies.
type Runtime struct {
	MemoryLimitMiB int `koanf:"memory_limit_mib" help:"Soft memory limit of serve, in MiB (debug.SetMemoryLimit): the garbage collector runs more often as the process nears it; 0 leaves the limit to GOMEMLIMIT, which also wins over the default (not over a value set here). At least max_concurrent × argon2_memory_kib + 32 MiB."`
}

// PlaceholderPepper is the pepper .env.example holds for the user to
// replace; serve refuses it, as anyone may read it.
const PlaceholderPepper = "change-me-to-a-long-random-secret"

// MinSecretBytes is the shortest pepper or device key serve accepts: 256
// bits, the size of the HMAC-SHA256 key each of them is.
const MinSecretBytes = 32

// WeakSecrets lists the secrets that serve refuses and dev warns about: a
// non-empty password.pepper or auth.device_key that is shorter than
// MinSecretBytes or is the placeholder of .env.example. An empty pepper is
// not among them (serve warns about it and runs unpeppered), nor an empty
// device key (derived from the pepper).
func (c *Config) WeakSecrets() []string {
	var p []string
	for _, s := range []struct{ key, value string }{
		{"password.pepper", c.Password.Pepper},
		{"auth.device_key", c.Auth.DeviceKey},
	} {
		const fix = "set a random secret of at least 32 bytes, for example the output of `openssl rand -hex 32`"
		switch {
		case s.value == "":
		case s.value == PlaceholderPepper:
			c.problem(&p, s.key, "is the placeholder of .env.example, which anyone can read; %s", fix)
		case len(s.value) < MinSecretBytes:
			c.problem(&p, s.key, "is %d bytes long, shorter than %d; %s", len(s.value), MinSecretBytes, fix)
		}
	}
	return p
}

// MemoryFloorMiB is what a memory limit must leave the service besides
// the memory of the password hashes running at once: the live heap of
// everything else, with room for the collector to work.
const MemoryFloorMiB = 32

// Dev holds the settings of the dev command.
type Dev struct {
	DataDir string `koanf:"data_dir" help:"Where accounts dev keeps its private PostgreSQL cluster."`
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		HTTP: HTTP{
			Addr:              ":8080",
			ForwardedHeader:   "X-Forwarded-For",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			// Above the 60 s upstream idle timeout of nginx and of AWS's
			// load balancers, so they close an idle connection first and
			// never send a request on one this server is closing.
			IdleTimeout: 75 * time.Second,
			// Half the common default of 1024 open files, should raising
			// the soft limit fail, leaving the rest for the database pool
			// and the process; an idle connection costs about 17 KiB
			// (measured: 2 000 idle ones raised serve's RSS by 33 MiB), so
			// 512 stay within 9 MiB of the 64 MiB memory budget.
			MaxConnections: 512,
			// An eighth of the budget: a client needs eight addresses to
			// fill it, and a browser opens at most six per host.
			MaxConnsPerAddr: 64,
			MaxHeaderBytes:  64 << 10,
			MaxBodyBytes:    1 << 20,
			// Eight bodies of the largest size: the held-body attack of
			// issue 29 (256 of them) then costs 8 MiB, not 256.
			BodyBudgetBytes: 8 << 20,
			BodyReadTimeout: 5 * time.Second,
			// A 1 MiB body may take 5 s + 16 s; a login's 100 bytes, 5 s.
			BodyMinRate:     64 << 10,
			ShutdownTimeout: 15 * time.Second,
			ReadyTimeout:    2 * time.Second,
		},
		Database: Database{
			Host:        "localhost",
			Port:        5432,
			User:        "postgres",
			Password:    "postgres",
			Name:        "app",
			SSLMode:     "prefer",
			PoolSize:    10,
			MaxOverflow: 20,
			PoolTimeout: 30 * time.Second,
			PoolRecycle: 1800 * time.Second,
			PrePing:     true,
			ExecMode:    "cache_statement",
			WaitTimeout: 5 * time.Minute,
			WaitEvery:   time.Second,
		},
		Log: Log{Level: "info", Format: "auto"},
		Auth: Auth{
			// Load turns it off, when no source sets it, for an API that
			// listens only on loopback.
			CookieSecure:             true,
			SessionTTL:               30 * time.Minute,
			SessionMaxLifetime:       12 * time.Hour,
			AuditRetention:           365 * 24 * time.Hour,
			LoginFailuresPerUsername: 10,
			LoginFailuresPerAddress:  100,
			LoginFailuresPerDevice:   10,
			// A session's own budget for its password changes: a stolen
			// session guesses 5 per window, and nobody else spends it.
			PasswordFailuresPerSession: 5,
			// Every hash is paid, a right password's too: 60 logins of one
			// account in 15 minutes are more than a person makes, and
			// leave room for the 2 × (10 + 10) failures others may spend
			// across a window's edge; 1000 of one address fit an office
			// behind one NAT.
			VerificationsPerAccount: 60,
			VerificationsPerAddress: 1000,
			// A device that logged in within a month stays trusted:
			// sessions end after 12 hours at most, so a regular user's
			// device renews its token long before; a token copied off a
			// device is useful for a month, not forever.
			DeviceTokenLifetime: 30 * 24 * time.Hour,
			LoginThrottleWindow: 15 * time.Minute,
			SignUpsPerAddress:   20,
			SignUpWindow:        time.Hour,
			ThrottleBuckets:     65536,
		},
		Password: Password{
			// One of the argon2id settings OWASP's Password Storage Cheat
			// Sheet lists as equally strong (9 MiB, 4 passes, 1 lane; its
			// first, 19 MiB with 2 passes, is another): max_concurrent
			// hashes must fit the service's memory budget (under 64 MiB
			// at peak, bench/ measurement 5), and with 19 MiB two hashes
			// alone took 38 MiB of it. It also hashes faster here: the
			// smaller memory stays closer to the CPU caches.
			Argon2Time:     4,
			Argon2MemoryKB: 9 * 1024,
			Argon2Threads:  1,
			MaxConcurrent:  2,
			MaxWait:        time.Second,
		},
		Migrate: Migrate{Dir: "migrations", StatementLockTimeout: 3 * time.Second, LockRetries: 5},
		// 3097: not 9090, the Prometheus server's own port;
		// docs/operations.md (Metrics) says why this one.
		Metrics: Metrics{Enabled: true, Addr: "127.0.0.1:3097"},
		// The soft limit's default is the memory budget the benchmark
		// holds serve to (bench/: peak RSS under 64 MiB under the GET
		// load). Under a burst of sign-ups and logins every argon2id hash
		// leaves its memory (9 MiB by default) as garbage; without a limit
		// the heap may grow to twice the live memory before the collector
		// runs, with it the collector runs before the process passes the
		// limit. The live memory, at most 2 × 9 MiB of running hashes and
		// a few MiB for the rest, stays well below it, so the collector
		// is not driven to run without pause.
		Runtime: Runtime{MemoryLimitMiB: 64},
		Dev:     Dev{DataDir: ".data/postgres"},
	}
}

// ConnString returns the database URL: database.url when set, otherwise one
// built from the parts with user and password escaped.
func (d Database) ConnString() string {
	if d.URL != "" {
		return d.URL
	}
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(d.User, d.Password),
		Path:   "/" + d.Name,
	}
	if d.User == "" {
		u.User = nil
	} else if d.Password == "" {
		u.User = url.User(d.User)
	}
	q := url.Values{}
	if strings.HasPrefix(d.Host, "/") {
		// A socket directory cannot stand in the authority part.
		q.Set("host", d.Host)
		q.Set("port", strconv.Itoa(d.Port))
	} else {
		u.Host = net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
	}
	if d.SSLMode != "" {
		q.Set("sslmode", d.SSLMode)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// RedactURL returns s with any password replaced, for logs and messages.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Source tells where key got its value: "default", "file PATH",
// "environment variable NAME" or "flag --NAME".
func (c *Config) Source(key string) string {
	if s, ok := c.sources[key]; ok {
		return s
	}
	return "default"
}

// urlParts are the keys database.url replaces when it is set: ConnString
// builds the URL from them only without it.
var urlParts = []string{"database.host", "database.port", "database.user", "database.password", "database.name", "database.sslmode"}

// shownSource is the source config show prints for key: Source, and, for
// a part of the URL while database.url is set, that it is not in effect.
func (c *Config) shownSource(key string) string {
	if c.Database.URL != "" && slices.Contains(urlParts, key) {
		return c.Source(key) + "; not in effect: database.url (" + c.Source("database.url") + ") overrides it"
	}
	return c.Source(key)
}

// Error lists every invalid key of a configuration, each with its source.
type Error struct {
	Problems []string
}

// Error implements error.
func (e *Error) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

func (c *Config) problem(p *[]string, key, format string, args ...any) {
	*p = append(*p, fmt.Sprintf("%s: %s (from %s)", key, fmt.Sprintf(format, args...), c.Source(key)))
}
