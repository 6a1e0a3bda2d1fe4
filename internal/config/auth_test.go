package config_test

import (
	"strings"
	"testing"

	"accounts/internal/config"
)

// TestAuthValidationNamesSource checks that bad auth.* values stop loading
// with the key and where the value came from, as for every other key.
func TestAuthValidationNamesSource(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "-1"},
			"auth.login_failures_per_username: must not be negative (0 disables), got -1 (from environment variable ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME)"},
		{map[string]string{"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS": "-5"},
			"auth.login_failures_per_address: must not be negative (0 disables), got -5 (from environment variable ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS)"},
		{map[string]string{"ACCOUNTS_AUTH_LOGIN_THROTTLE_WINDOW": "0s"},
			"auth.login_throttle_window: must be a positive duration, got 0s (from environment variable ACCOUNTS_AUTH_LOGIN_THROTTLE_WINDOW)"},
	} {
		_, err := config.Load(config.Sources{Getenv: env(c.vars)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%v) = %v; want an error containing %q", c.vars, err, c.want)
		}
	}
	if _, err := config.Load(config.Sources{Getenv: env(map[string]string{"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "0"})}); err != nil {
		t.Errorf("0 (throttle off) was refused: %v", err)
	}
}

// TestCookieSecureByDefault (issue 29, finding 8): cookies are Secure by
// default, unless http.addr listens only on loopback (a developer's
// machine, or a proxy on the same host), which the source of the key
// then says; a value set anywhere wins either way.
func TestCookieSecureByDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		vars     map[string]string
		secure   bool
		loopback bool
	}{
		{map[string]string{}, true, false},
		{map[string]string{"ACCOUNTS_HTTP_ADDR": "0.0.0.0:8080"}, true, false},
		{map[string]string{"ACCOUNTS_HTTP_ADDR": "10.0.0.5:8080"}, true, false},
		{map[string]string{"ACCOUNTS_HTTP_ADDR": "127.0.0.1:0"}, false, true},
		{map[string]string{"ACCOUNTS_HTTP_ADDR": "[::1]:8080"}, false, true},
		{map[string]string{"ACCOUNTS_HTTP_ADDR": "localhost:8080"}, false, true},
		{map[string]string{"ACCOUNTS_HTTP_ADDR": "127.0.0.1:0", "ACCOUNTS_AUTH_COOKIE_SECURE": "true"}, true, false},
		{map[string]string{"ACCOUNTS_AUTH_COOKIE_SECURE": "false"}, false, false},
	} {
		cfg, err := config.Load(config.Sources{Getenv: env(c.vars)})
		if err != nil {
			t.Fatal(err)
		}
		src := cfg.Source("auth.cookie_secure")
		if cfg.Auth.CookieSecure != c.secure || strings.Contains(src, "loopback") != c.loopback {
			t.Errorf("%v: cookie_secure %v from %q; want %v, the source naming loopback: %v", c.vars, cfg.Auth.CookieSecure, src, c.secure, c.loopback)
		}
	}
}

// TestBodyLimitsValidation: the body budget must hold one body of the
// largest size, and the pace settings must be positive; each problem
// names its key and source.
func TestBodyLimitsValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"ACCOUNTS_HTTP_BODY_BUDGET_BYTES": "1000"},
			"http.body_budget_bytes: must be at least http.max_body_bytes (1048576, from default), got 1000 (from environment variable ACCOUNTS_HTTP_BODY_BUDGET_BYTES)"},
		{map[string]string{"ACCOUNTS_HTTP_BODY_MIN_RATE": "0"},
			"http.body_min_rate: must be at least 1 byte a second, got 0 (from environment variable ACCOUNTS_HTTP_BODY_MIN_RATE)"},
		{map[string]string{"ACCOUNTS_HTTP_BODY_READ_TIMEOUT": "0s"},
			"http.body_read_timeout: must be a positive duration, got 0s (from environment variable ACCOUNTS_HTTP_BODY_READ_TIMEOUT)"},
	} {
		_, err := config.Load(config.Sources{Getenv: env(c.vars)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%v) = %v; want an error containing %q", c.vars, err, c.want)
		}
	}
	if _, err := config.Load(config.Sources{Getenv: env(map[string]string{"ACCOUNTS_HTTP_MAX_BODY_BYTES": "1000", "ACCOUNTS_HTTP_BODY_BUDGET_BYTES": "1000"})}); err != nil {
		t.Errorf("a budget of one body was refused: %v", err)
	}
}
