package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
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
	// Default is the built-in default, as docs/configuration.md prints it.
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
	l, err := newLoader()
	if err != nil {
		return nil, err
	}
	if err := l.loadFile(src.File); err != nil {
		return nil, err
	}
	if err := checkEnviron(src, l.keys); err != nil {
		return nil, err
	}
	if err := l.loadEnv(src.Getenv); err != nil {
		return nil, err
	}
	if err := l.loadFlags(src.Flags); err != nil {
		return nil, err
	}
	cfg, problems := l.decode()
	if cfg.Source("runtime.memory_limit_mib") == "default" && src.Getenv != nil && src.Getenv("GOMEMLIMIT") != "" {
		// The runtime has applied GOMEMLIMIT already; only a value the
		// operator set for this key overrides it.
		cfg.Runtime.MemoryLimitMiB = 0
		l.sources["runtime.memory_limit_mib"] = "default (0: environment variable GOMEMLIMIT is set)"
	}
	if cfg.Source("auth.cookie_secure") == "default" && loopbackOnly(cfg.HTTP.Addr) {
		// Only this host can reach the API: a browser on it speaks plain
		// HTTP to it, and would drop a Secure cookie.
		cfg.Auth.CookieSecure = false
		l.sources["auth.cookie_secure"] = "default (false: http.addr listens only on loopback)"
	}
	if len(problems) == 0 {
		problems = cfg.validate()
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return cfg, nil
}

// loader merges the layers of the configuration over the defaults and
// remembers which layer set each key.
type loader struct {
	keys    []Key
	known   map[string]bool
	k       *koanf.Koanf
	sources map[string]string
}

func newLoader() (*loader, error) {
	l := &loader{keys: Keys(), k: koanf.New("."), sources: map[string]string{}}
	l.known = make(map[string]bool, len(l.keys))
	for _, key := range l.keys {
		l.known[key.Name] = true
	}
	if err := l.k.Load(structs.Provider(Default(), "koanf"), nil); err != nil {
		return nil, err
	}
	return l, nil
}

// layer merges what p provides, refusing unknown keys; name is the source
// every key it sets is reported with.
func (l *loader) layer(name string, p koanf.Provider, parser koanf.Parser) error {
	layer := koanf.New(".")
	if err := layer.Load(p, parser); err != nil {
		return err
	}
	for _, key := range layer.Keys() {
		if !l.known[key] {
			return fmt.Errorf("%s: unknown key %q%s; see `accounts config show` for the valid keys", name, key, didYouMean(key, keyNames(l.keys)))
		}
		l.sources[key] = name
	}
	return l.k.Merge(layer)
}

// loadFile merges the YAML file path; empty reads none.
func (l *loader) loadFile(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	return l.layer("file "+path, file.Provider(path), yaml.Parser())
}

// loadEnv merges the environment variables of every key; nil reads none.
func (l *loader) loadEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	for _, key := range l.keys {
		// The first variable listed wins, so DATABASE_URL beats
		// ACCOUNTS_DATABASE_URL; each set key is its own layer so that
		// the source names the variable.
		for i := len(key.Env) - 1; i >= 0; i-- {
			if v := getenv(key.Env[i]); v != "" {
				if err := l.layer("environment variable "+key.Env[i], confmap.Provider(map[string]any{key.Name: v}, "."), nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// loadFlags merges the flags of FlagKeys that the user set; nil reads none.
func (l *loader) loadFlags(flags *pflag.FlagSet) error {
	if flags == nil {
		return nil
	}
	var set []string
	p := posflag.ProviderWithFlag(flags, ".", nil, func(f *pflag.Flag) (string, any) {
		key, ok := FlagKeys[f.Name]
		if !ok || !f.Changed {
			return "", nil
		}
		set = append(set, f.Name)
		return key, posflag.FlagVal(flags, f)
	})
	layer := koanf.New(".")
	if err := layer.Load(p, nil); err != nil {
		return err
	}
	for _, name := range set {
		l.sources[FlagKeys[name]] = "flag --" + name
	}
	return l.k.Merge(layer)
}

// decode fills a Config from the merged layers, with a problem for each
// value that does not fit its key's type.
func (l *loader) decode() (*Config, []string) {
	cfg := Default()
	cfg.sources = l.sources
	var problems []string
	root := reflect.ValueOf(&cfg).Elem()
	for _, key := range l.keys {
		if !l.k.Exists(key.Name) {
			continue
		}
		field := root.FieldByIndex(key.index)
		if err := decode(l.k.Get(key.Name), field.Addr().Interface()); err != nil {
			cfg.problem(&problems, key.Name, "cannot use %q as %s", fmt.Sprint(l.k.Get(key.Name)), typeName(field.Type()))
		}
	}
	return &cfg, problems
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
		if _, err := fmt.Fprintf(w, "%s = %q  # %s\n", key.Name, v, c.shownSource(key.Name)); err != nil {
			return err
		}
	}
	return nil
}

// loopbackOnly reports whether addr (host:port) listens on loopback only:
// its host is localhost or a loopback address. An empty host listens on
// every interface.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
