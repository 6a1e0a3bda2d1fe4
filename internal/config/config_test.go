package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"accounts/internal/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "accounts.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("addr", ":8080", "")
	fs.String("database-url", "", "")
	fs.Bool("migrate", false, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestDefaultsAreTheSeeds(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.Sources{})
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Database
	if d.Host != "localhost" || d.Port != 5432 || d.User != "postgres" || d.Password != "postgres" || d.Name != "app" ||
		d.PoolSize != 10 || d.MaxOverflow != 20 || d.PoolTimeout != 30*time.Second || d.PoolRecycle != 1800*time.Second ||
		d.Echo || d.EchoPool {
		t.Fatalf("defaults differ from the seed's: %+v", d)
	}
	if cfg.HTTP.Addr != ":8080" {
		t.Fatalf("http.addr default = %q", cfg.HTTP.Addr)
	}
	if got := cfg.Source("database.port"); got != "default" {
		t.Fatalf("source = %q", got)
	}
}

// TestPrecedence checks that each source overrides the one before it:
// defaults, then the file, then the environment, then flags.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "http:\n  addr: ':1111'\ndatabase:\n  pool_size: 3\n  max_overflow: 4\n  name: fromfile\n")
	cfg, err := config.Load(config.Sources{
		File:   file,
		Getenv: env(map[string]string{"ACCOUNTS_HTTP_ADDR": ":2222", "ACCOUNTS_DATABASE_POOL_SIZE": "5"}),
		Flags:  flags(t, "--addr", ":3333"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != ":3333" || cfg.Source("http.addr") != "flag --addr" {
		t.Errorf("flag should win: %q from %s", cfg.HTTP.Addr, cfg.Source("http.addr"))
	}
	if cfg.Database.PoolSize != 5 || cfg.Source("database.pool_size") != "environment variable ACCOUNTS_DATABASE_POOL_SIZE" {
		t.Errorf("env should beat file: %d from %s", cfg.Database.PoolSize, cfg.Source("database.pool_size"))
	}
	if cfg.Database.MaxOverflow != 4 || cfg.Database.Name != "fromfile" || cfg.Source("database.name") != "file "+file {
		t.Errorf("file should beat defaults: %+v from %s", cfg.Database, cfg.Source("database.name"))
	}
	if cfg.Database.PoolTimeout != 30*time.Second {
		t.Errorf("untouched default lost: %s", cfg.Database.PoolTimeout)
	}
	// An unchanged flag must not override the environment with its default.
	cfg, err = config.Load(config.Sources{Getenv: env(map[string]string{"ACCOUNTS_HTTP_ADDR": ":2222"}), Flags: flags(t)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != ":2222" {
		t.Errorf("unset flag overrode env: %q", cfg.HTTP.Addr)
	}
}

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.Sources{Getenv: env(map[string]string{
		"ACCOUNTS_DATABASE_USER":     "a@b:c",
		"ACCOUNTS_DATABASE_PASSWORD": "p@ss/w:rd?#%",
		"ACCOUNTS_DATABASE_HOST":     "db.internal",
		"ACCOUNTS_DATABASE_PORT":     "6543",
	})})
	if err != nil {
		t.Fatal(err)
	}
	want := "postgres://a%40b%3Ac:p%40ss%2Fw%3Ard%3F%23%25@db.internal:6543/app?sslmode=prefer"
	if got := cfg.Database.ConnString(); got != want {
		t.Errorf("ConnString = %s, want %s", got, want)
	}
	// DATABASE_URL wins over the parts, and over ACCOUNTS_DATABASE_URL.
	cfg, err = config.Load(config.Sources{Getenv: env(map[string]string{
		"DATABASE_URL":           "postgres://u@h1/db1",
		"ACCOUNTS_DATABASE_URL":  "postgres://u@h2/db2",
		"ACCOUNTS_DATABASE_HOST": "ignored",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Database.ConnString(); got != "postgres://u@h1/db1" {
		t.Errorf("ConnString = %s", got)
	}
	// A socket directory goes into the query, not the authority.
	cfg, err = config.Load(config.Sources{Getenv: env(map[string]string{"ACCOUNTS_DATABASE_HOST": "/var/run/postgresql"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Database.ConnString(); !strings.Contains(got, "host=%2Fvar%2Frun%2Fpostgresql") {
		t.Errorf("ConnString = %s", got)
	}
}

func TestValidationNamesKeyAndSource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		src  config.Sources
		want []string
	}{
		{"port zero from env",
			config.Sources{Getenv: env(map[string]string{"ACCOUNTS_DATABASE_PORT": "0"})},
			[]string{"database.port: must be between 1 and 65535, got 0 (from environment variable ACCOUNTS_DATABASE_PORT)"}},
		{"negative pool size from file",
			config.Sources{File: "FILE:database:\n  pool_size: -1\n"},
			[]string{"database.pool_size: must not be negative, got -1 (from file "}},
		{"not a number",
			config.Sources{Getenv: env(map[string]string{"ACCOUNTS_DATABASE_PORT": "abc"})},
			[]string{`database.port: cannot use "abc" as a whole number (from environment variable ACCOUNTS_DATABASE_PORT)`}},
		{"bad duration",
			config.Sources{Getenv: env(map[string]string{"ACCOUNTS_DATABASE_POOL_TIMEOUT": "soon"})},
			[]string{`database.pool_timeout: cannot use "soon" as a duration`}},
		{"malformed URL, password not echoed",
			config.Sources{Getenv: env(map[string]string{"DATABASE_URL": "postgres://u:sekret@host:notaport/db"})},
			[]string{"database.url: malformed connection URL", "(from environment variable DATABASE_URL)"}},
		{"unknown key in file",
			config.Sources{File: "FILE:database:\n  poolsize: 3\n"},
			[]string{`unknown key "database.poolsize"`}},
		{"bad enum", config.Sources{Getenv: env(map[string]string{"ACCOUNTS_LOG_LEVEL": "loud"})},
			[]string{`log.level: must be debug, info, warn or error; got "loud"`}},
		{"zero ready timeout", config.Sources{Getenv: env(map[string]string{"ACCOUNTS_HTTP_READY_TIMEOUT": "0s"})},
			[]string{"http.ready_timeout: must be a positive duration, got 0s (from environment variable ACCOUNTS_HTTP_READY_TIMEOUT)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := tc.src
			if body, ok := strings.CutPrefix(src.File, "FILE:"); ok {
				src.File = writeFile(t, body)
			}
			_, err := config.Load(src)
			if err == nil {
				t.Fatal("Load accepted invalid configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sekret") {
				t.Errorf("error leaks the password: %s", err)
			}
		})
	}
}

func TestShowRedactsSecrets(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.Sources{Getenv: env(map[string]string{
		"DATABASE_URL":               "postgres://u:urlsecret@h/db",
		"ACCOUNTS_PASSWORD_PEPPER":   "peppersecret",
		"ACCOUNTS_DATABASE_PASSWORD": "partsecret",
	})})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := cfg.Show(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, secret := range []string{"urlsecret", "peppersecret", "partsecret"} {
		if strings.Contains(out, secret) {
			t.Errorf("config show leaks %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`database.url = "postgres://u:xxxxx@h/db"  # environment variable DATABASE_URL`, `database.pool_size = "10"  # default`} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
}

// TestShowMarksWhatTheURLOverrides (issue 30, finding 6): with
// database.url set, config show and its YAML say that the parts the URL
// replaces are not in effect, naming where the URL came from; without it,
// they say nothing of the kind.
func TestShowMarksWhatTheURLOverrides(t *testing.T) {
	t.Parallel()
	show := func(vars map[string]string) (plain, yaml string) {
		cfg, err := config.Load(config.Sources{Getenv: env(vars)})
		if err != nil {
			t.Fatal(err)
		}
		var a, b strings.Builder
		if err := cfg.Show(&a); err != nil {
			t.Fatal(err)
		}
		if err := cfg.ShowYAML(&b); err != nil {
			t.Fatal(err)
		}
		return a.String(), b.String()
	}
	const mark = "not in effect: database.url (environment variable DATABASE_URL) overrides it"
	plain, yaml := show(map[string]string{"DATABASE_URL": "postgres://u@h/db", "ACCOUNTS_DATABASE_NAME": "other"})
	for _, want := range []string{
		`database.host = "localhost"  # default; ` + mark,
		`database.name = "other"  # environment variable ACCOUNTS_DATABASE_NAME; ` + mark,
		`database.sslmode = "prefer"  # default; ` + mark,
	} {
		if !strings.Contains(plain, want+"\n") {
			t.Errorf("config show lacks %q:\n%s", want, plain)
		}
	}
	if !strings.Contains(yaml, "  name: \"other\"  # environment variable ACCOUNTS_DATABASE_NAME; "+mark+"\n") {
		t.Errorf("config show --format yaml does not mark database.name:\n%s", yaml)
	}
	if strings.Contains(plain, "database.pool_size = \"10\"  # default; not in effect") {
		t.Errorf("config show marks a key the URL does not replace:\n%s", plain)
	}
	plain, yaml = show(nil)
	if strings.Contains(plain+yaml, "not in effect") {
		t.Errorf("without database.url, config show marks keys as not in effect:\n%s%s", plain, yaml)
	}
}
