package config_test

import (
	"bytes"
	"strings"
	"testing"

	"accounts/internal/config"
)

// TestUnknownVariableNamesTheClosestKey checks that a misspelled
// ACCOUNTS_* variable stops start-up, as an unknown key in the file does,
// and that both name the key that was probably meant.
func TestUnknownVariableNamesTheClosestKey(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"ACCOUNTS_DATABASE_POOLSIZE": "3", "ACCOUNTS_SUPERADMIN_PASSWORD": "x", "HOME": "/root"}
	_, err := config.Load(config.Sources{Getenv: env(vars), Environ: []string{"ACCOUNTS_DATABASE_POOLSIZE", "ACCOUNTS_SUPERADMIN_PASSWORD", "HOME"},
		OtherVariables: []string{"ACCOUNTS_SUPERADMIN_PASSWORD"}})
	if err == nil || !strings.Contains(err.Error(), "ACCOUNTS_DATABASE_POOLSIZE") || !strings.Contains(err.Error(), "ACCOUNTS_DATABASE_POOL_SIZE") {
		t.Errorf("misspelled variable: err = %v, want it named with the closest key", err)
	}
	if strings.Contains(err.Error(), "SUPERADMIN") {
		t.Errorf("a variable a command reads is not a typo: %v", err)
	}
	_, err = config.Load(config.Sources{File: writeFile(t, "database:\n  poolsize: 3\n")})
	if err == nil || !strings.Contains(err.Error(), `"database.poolsize"`) || !strings.Contains(err.Error(), "database.pool_size") {
		t.Errorf("misspelled file key: err = %v, want the closest key named", err)
	}
}

// TestAddressesAreValidated checks that an address that cannot be
// listened on is refused at load, naming the key and its source.
func TestAddressesAreValidated(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ key, variable, value string }{
		{"http.addr", "ACCOUNTS_HTTP_ADDR", ":0x"},
		{"http.addr", "ACCOUNTS_HTTP_ADDR", "8080"},
		{"http.addr", "ACCOUNTS_HTTP_ADDR", ":70000"},
		{"metrics.addr", "ACCOUNTS_METRICS_ADDR", "localhost"},
	} {
		_, err := config.Load(config.Sources{Getenv: env(map[string]string{c.variable: c.value})})
		if err == nil || !strings.Contains(err.Error(), c.key+":") || !strings.Contains(err.Error(), c.variable) {
			t.Errorf("%s=%s: err = %v", c.variable, c.value, err)
		}
	}
	for _, ok := range []string{":8080", "127.0.0.1:0", "[::1]:9", "localhost:8080"} {
		if _, err := config.Load(config.Sources{Getenv: env(map[string]string{"ACCOUNTS_HTTP_ADDR": ok})}); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// TestShowYAMLRoundTrip checks that `config show --format yaml` prints a
// file that --config reads back into the same configuration.
func TestShowYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"ACCOUNTS_HTTP_ADDR":             "127.0.0.1:18080",
		"ACCOUNTS_DATABASE_POOL_SIZE":    "3",
		"ACCOUNTS_DATABASE_WAIT_TIMEOUT": "90s",
		"ACCOUNTS_HTTP_DOCS":             "true",
		"ACCOUNTS_HTTP_PUBLIC_ORIGINS":   "https://a.example,https://b.example:8443",
		"ACCOUNTS_DEV_DATA_DIR":          `/tmp/a "quoted" #not a comment: \\ é`,
		"ACCOUNTS_DATABASE_PASSWORD":     "secret-pw",
	}
	cfg, err := config.Load(config.Sources{Getenv: env(vars)})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cfg.ShowYAML(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "secret-pw") {
		t.Fatalf("the YAML shows a secret:\n%s", out.String())
	}
	back, err := config.Load(config.Sources{File: writeFile(t, out.String()), Getenv: env(map[string]string{"ACCOUNTS_DATABASE_PASSWORD": "secret-pw"})})
	if err != nil {
		t.Fatalf("--config refuses what config show --format yaml printed: %v\n%s", err, out.String())
	}
	var a, b bytes.Buffer
	_ = cfg.Show(&a)
	_ = back.Show(&b)
	strip := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			lines = append(lines, strings.SplitN(l, "  # ", 2)[0])
		}
		return strings.Join(lines, "\n")
	}
	if strip(a.String()) != strip(b.String()) {
		t.Errorf("the round trip changed the configuration:\nbefore:\n%s\nafter:\n%s", a.String(), b.String())
	}
}
