package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts the environment variable of every key: database.pool_size
// is read from ACCOUNTS_DATABASE_POOL_SIZE.
const EnvPrefix = "ACCOUNTS_"

// Key describes one configuration key.
type Key struct {
	// Name is the dotted key, as in the YAML file ("database.pool_size").
	Name string
	// Env lists the environment variables read for the key, the one that
	// wins first.
	Env []string
	// Help is the one-line description from the struct tag.
	Help string
	// Secret keys are redacted wherever the configuration is printed.
	Secret bool
	// Default is the built-in default, as printed in the README.
	Default string

	index []int
}

// Keys returns every configuration key in declaration order.
func Keys() []Key {
	var keys []Key
	def := reflect.ValueOf(Default())
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if tag == "" {
				continue
			}
			idx := append(slices.Clone(index), i)
			name := prefix + tag
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, name+".", idx)
				continue
			}
			env := []string{EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, ".", "_"))}
			if e := f.Tag.Get("env"); e != "" {
				env = append([]string{e}, env...)
			}
			keys = append(keys, Key{
				Name:    name,
				Env:     env,
				Help:    f.Tag.Get("help"),
				Secret:  f.Tag.Get("secret") == "true",
				Default: fmt.Sprint(def.FieldByIndex(idx).Interface()),
				index:   idx,
			})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return keys
}

// FlagKeys maps command-line flag names to the keys they set. A command
// defines the flags it takes; Load reads those that the user set.
var FlagKeys = map[string]string{
	"addr":         "http.addr",
	"database-url": "database.url",
	"log-level":    "log.level",
	"log-format":   "log.format",
	"migrate":      "migrate.on_start",
	"dir":          "migrate.dir",
	"dev-url":      "migrate.dev_url",
	"data-dir":     "dev.data_dir",
	"wait-timeout": "database.wait_timeout",
}

// Sources are the inputs of Load besides the defaults.
type Sources struct {
	// File is the YAML file to read; empty reads none.
	File string
	// Getenv reads the environment; nil reads none.
	Getenv func(string) string
	// Flags are the parsed command-line flags; nil reads none.
	Flags *pflag.FlagSet
	// Environ names the variables set in the environment (os.Environ's
	// names); an ACCOUNTS_* one among them that no key reads and that is
	// not in OtherVariables is an error, as an unknown key in the file is.
	// Nil checks none.
	Environ []string
	// OtherVariables are the ACCOUNTS_* variables that commands read
	// besides the keys (the password of users create-superadmin, say).
	OtherVariables []string
}

// Load builds the configuration from defaults, file, environment and flags,
// and validates it. Every problem names the key and where its value came
// from.
func Load(src Sources) (*Config, error) {
	keys := Keys()
	known := make(map[string]bool, len(keys))
	for _, k := range keys {
		known[k.Name] = true
	}
	k := koanf.New(".")
	sources := map[string]string{}
	layer := func(name string, p koanf.Provider, parser koanf.Parser) error {
		l := koanf.New(".")
		if err := l.Load(p, parser); err != nil {
			return err
		}
		for _, key := range l.Keys() {
			if !known[key] {
				return fmt.Errorf("%s: unknown key %q%s; see `accounts config show` for the valid keys", name, key, didYouMean(key, keyNames(keys)))
			}
			sources[key] = name
		}
		return k.Merge(l)
	}
	if err := k.Load(structs.Provider(Default(), "koanf"), nil); err != nil {
		return nil, err
	}
	if src.File != "" {
		if _, err := os.Stat(src.File); err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		if err := layer("file "+src.File, file.Provider(src.File), yaml.Parser()); err != nil {
			return nil, err
		}
	}
	if err := checkEnviron(src, keys); err != nil {
		return nil, err
	}
	if src.Getenv != nil {
		for _, key := range keys {
			// The first variable listed wins, so DATABASE_URL beats
			// ACCOUNTS_DATABASE_URL; each set key is its own layer so that
			// the source names the variable.
			for i := len(key.Env) - 1; i >= 0; i-- {
				if v := src.Getenv(key.Env[i]); v != "" {
					if err := layer("environment variable "+key.Env[i], confmap.Provider(map[string]any{key.Name: v}, "."), nil); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if src.Flags != nil {
		var set []string
		p := posflag.ProviderWithFlag(src.Flags, ".", nil, func(f *pflag.Flag) (string, any) {
			key, ok := FlagKeys[f.Name]
			if !ok || !f.Changed {
				return "", nil
			}
			set = append(set, f.Name)
			return key, posflag.FlagVal(src.Flags, f)
		})
		l := koanf.New(".")
		if err := l.Load(p, nil); err != nil {
			return nil, err
		}
		for _, name := range set {
			sources[FlagKeys[name]] = "flag --" + name
		}
		if err := k.Merge(l); err != nil {
			return nil, err
		}
	}

	cfg := Default()
	cfg.sources = sources
	var problems []string
	root := reflect.ValueOf(&cfg).Elem()
	for _, key := range keys {
		if !k.Exists(key.Name) {
			continue
		}
		field := root.FieldByIndex(key.index)
		if err := decode(k.Get(key.Name), field.Addr().Interface()); err != nil {
			cfg.problem(&problems, key.Name, "cannot use %q as %s", fmt.Sprint(k.Get(key.Name)), typeName(field.Type()))
		}
	}
	if cfg.Source("runtime.memory_limit_mib") == "default" && src.Getenv != nil && src.Getenv("GOMEMLIMIT") != "" {
		// The runtime has applied GOMEMLIMIT already; only a value the
		// operator set for this key overrides it.
		cfg.Runtime.MemoryLimitMiB = 0
		sources["runtime.memory_limit_mib"] = "default (0: environment variable GOMEMLIMIT is set)"
	}
	if len(problems) == 0 {
		problems = cfg.validate()
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return &cfg, nil
}

// checkEnviron refuses an ACCOUNTS_* variable that nothing reads: a typo
// there would otherwise be ignored in silence.
func checkEnviron(src Sources, keys []Key) error {
	read := map[string]bool{}
	var names []string
	for _, k := range keys {
		for _, e := range k.Env {
			read[e] = true
			names = append(names, e)
		}
	}
	for _, v := range src.OtherVariables {
		read[v] = true
	}
	var problems []string
	for _, v := range src.Environ {
		if strings.HasPrefix(v, EnvPrefix) && !read[v] && (src.Getenv == nil || src.Getenv(v) != "") {
			problems = append(problems, fmt.Sprintf("environment variable %s: no configuration key reads it%s; see `accounts config show` for the valid keys", v, didYouMean(v, names)))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return &Error{Problems: problems}
	}
	return nil
}

func keyNames(keys []Key) []string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return names
}

func didYouMean(name string, candidates []string) string {
	if c := closest(name, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %s?)", c)
	}
	return ""
}

func decode(in, out any) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToTimeDurationHookFunc(),
		WeaklyTypedInput: true,
		Result:           out,
	})
	if err != nil {
		return err
	}
	return d.Decode(in)
}

func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration (like 30s or 5m)"
	case t.Kind() == reflect.Bool:
		return "a boolean (true or false)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	}
	return t.String()
}

func (c *Config) validate() []string {
	var p []string
	d := c.Database
	if d.URL != "" {
		if _, err := pgx.ParseConfig(d.URL); err != nil {
			c.problem(&p, "database.url", "malformed connection URL: %s", redactParseError(err))
		}
	} else {
		if d.Host == "" {
			c.problem(&p, "database.host", "must not be empty")
		}
		if d.Port < 1 || d.Port > 65535 {
			c.problem(&p, "database.port", "must be between 1 and 65535, got %d", d.Port)
		}
		if d.Name == "" {
			c.problem(&p, "database.name", "must not be empty")
		}
		// Only worth saying when the parts themselves looked right: a bad
		// port already explains why the URL does not parse.
		if len(p) == 0 {
			if _, err := pgx.ParseConfig(d.ConnString()); err != nil {
				c.problem(&p, "database.sslmode", "the URL built from the parts does not parse: %s", redactParseError(err))
			}
		}
	}
	if d.PoolSize < 0 {
		c.problem(&p, "database.pool_size", "must not be negative, got %d", d.PoolSize)
	}
	if d.MaxOverflow < 0 {
		c.problem(&p, "database.max_overflow", "must not be negative, got %d", d.MaxOverflow)
	}
	if d.PoolSize+d.MaxOverflow < 1 {
		c.problem(&p, "database.max_overflow", "pool_size + max_overflow must allow at least one connection")
	}
	positive := map[string]time.Duration{
		"database.pool_timeout":      d.PoolTimeout,
		"database.pool_recycle":      d.PoolRecycle,
		"database.wait_timeout":      d.WaitTimeout,
		"database.wait_interval":     d.WaitEvery,
		"auth.session_ttl":           c.Auth.SessionTTL,
		"auth.session_max_lifetime":  c.Auth.SessionMaxLifetime,
		"auth.signup_window":         c.Auth.SignUpWindow,
		"auth.login_throttle_window": c.Auth.LoginThrottleWindow,
		"auth.device_token_lifetime": c.Auth.DeviceTokenLifetime,
		"password.max_wait":          c.Password.MaxWait,
		"http.read_header_timeout":   c.HTTP.ReadHeaderTimeout,
		"http.shutdown_timeout":      c.HTTP.ShutdownTimeout,
		"http.ready_timeout":         c.HTTP.ReadyTimeout,
	}
	for _, key := range sortedKeys(positive) {
		if positive[key] <= 0 {
			c.problem(&p, key, "must be a positive duration, got %s", positive[key])
		}
	}
	if !slices.Contains([]string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"}, d.ExecMode) {
		c.problem(&p, "database.exec_mode", "must be one of cache_statement, cache_describe, describe_exec, exec, simple_protocol; got %q", d.ExecMode)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		c.problem(&p, "log.level", "must be debug, info, warn or error; got %q", c.Log.Level)
	}
	if !slices.Contains([]string{"auto", "text", "json"}, c.Log.Format) {
		c.problem(&p, "log.format", "must be auto, text or json; got %q", c.Log.Format)
	}
	if c.HTTP.MaxBodyBytes < 1 {
		c.problem(&p, "http.max_body_bytes", "must be positive, got %d", c.HTTP.MaxBodyBytes)
	}
	if c.HTTP.MaxConnections < 1 {
		c.problem(&p, "http.max_connections", "must be at least 1, got %d", c.HTTP.MaxConnections)
	}
	if c.HTTP.MaxConnsPerAddr < 0 {
		c.problem(&p, "http.max_connections_per_address", "must not be negative (0: no cap but http.max_connections), got %d", c.HTTP.MaxConnsPerAddr)
	}
	if c.HTTP.MaxHeaderBytes < 1024 {
		c.problem(&p, "http.max_header_bytes", "must be at least 1024, got %d", c.HTTP.MaxHeaderBytes)
	}
	counts := map[string]int{
		"auth.login_failures_per_username": c.Auth.LoginFailuresPerUsername,
		"auth.login_failures_per_address":  c.Auth.LoginFailuresPerAddress,
		"auth.login_failures_per_device":   c.Auth.LoginFailuresPerDevice,
		"auth.signups_per_address":         c.Auth.SignUpsPerAddress,
	}
	for _, key := range sortedKeys(counts) {
		if n := counts[key]; n < 0 {
			c.problem(&p, key, "must not be negative (0 disables), got %d", n)
		}
	}
	if c.Auth.ThrottleBuckets < 1 || c.Auth.ThrottleBuckets > 1<<24 {
		c.problem(&p, "auth.throttle_buckets", "must be between 1 and %d, got %d", 1<<24, c.Auth.ThrottleBuckets)
	}
	if c.Auth.AuditRetention < 0 {
		c.problem(&p, "auth.audit_retention", "must not be negative (0 keeps audit events forever), got %s", c.Auth.AuditRetention)
	}
	if c.Auth.SessionMaxLifetime > 0 && c.Auth.SessionMaxLifetime < c.Auth.SessionTTL {
		c.problem(&p, "auth.session_max_lifetime", "must be at least auth.session_ttl (%s), got %s", c.Auth.SessionTTL, c.Auth.SessionMaxLifetime)
	}
	for _, o := range strings.Split(c.HTTP.PublicOrigins, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			c.problem(&p, "http.public_origins", "%q is not an origin like https://accounts.example.com", o)
		}
	}
	for _, o := range strings.Split(c.HTTP.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o == "" || o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			c.problem(&p, "http.cors_origins", "%q is not an origin like https://app.example.com (or *)", o)
		}
	}
	pw := c.Password
	if pw.Argon2Time < 1 {
		c.problem(&p, "password.argon2_time", "must be at least 1, got %d", pw.Argon2Time)
	}
	if pw.Argon2MemoryKB < 8*uint32(max(pw.Argon2Threads, 1)) {
		c.problem(&p, "password.argon2_memory_kib", "must be at least 8 KiB per thread, got %d", pw.Argon2MemoryKB)
	}
	if pw.Argon2Threads < 1 {
		c.problem(&p, "password.argon2_threads", "must be at least 1, got %d", pw.Argon2Threads)
	}
	if pw.MaxConcurrent < 1 {
		c.problem(&p, "password.max_concurrent", "must be at least 1, got %d", pw.MaxConcurrent)
	}
	if c.Migrate.StatementLockTimeout < 0 {
		c.problem(&p, "migrate.statement_lock_timeout", "must not be negative, got %s", c.Migrate.StatementLockTimeout)
	}
	if c.Migrate.LockRetries < 0 {
		c.problem(&p, "migrate.lock_retries", "must not be negative, got %d", c.Migrate.LockRetries)
	}
	c.validateAddr(&p, "http.addr", c.HTTP.Addr)
	if c.Metrics.Addr != "" {
		c.validateAddr(&p, "metrics.addr", c.Metrics.Addr)
	}
	c.validateMemoryLimit(&p)
	return p
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

// redactParseError keeps the reason a URL does not parse but never echoes
// the URL, which may hold a password.
func redactParseError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil && !strings.Contains(pe.Unwrap().Error(), pe.ConnString) {
		return pe.Unwrap().Error()
	}
	return "not a valid postgres:// URL or key=value connection string"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Show writes the effective configuration, one key a line with its source,
// with every secret redacted.
func (c *Config) Show(w io.Writer) error {
	root := reflect.ValueOf(c).Elem()
	for _, key := range Keys() {
		v := fmt.Sprint(root.FieldByIndex(key.index).Interface())
		if key.Secret && v != "" {
			if strings.Contains(v, "://") {
				v = RedactURL(v)
			} else {
				v = "xxxxx"
			}
		}
		if _, err := fmt.Fprintf(w, "%s = %q  # %s\n", key.Name, v, c.Source(key.Name)); err != nil {
			return err
		}
	}
	return nil
}
