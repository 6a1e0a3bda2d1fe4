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
