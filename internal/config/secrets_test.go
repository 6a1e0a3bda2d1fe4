package config_test

import (
	"os"
	"strings"
	"testing"

	"accounts/internal/config"
)

// TestPlaceholderPepperIsTheExampleFiles keeps the placeholder that serve
// refuses the one .env.example holds.
func TestPlaceholderPepperIsTheExampleFiles(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "\nPASSWORD_PEPPER="+config.PlaceholderPepper+"\n") {
		t.Fatalf(".env.example does not set PASSWORD_PEPPER=%s, the placeholder serve refuses", config.PlaceholderPepper)
	}
}

// TestWeakSecrets: a pepper or device key that is set must be 32 bytes or
// more and not the placeholder; empty ones are not weak (serve warns about
// an empty pepper and derives the device key).
func TestWeakSecrets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		vars map[string]string
		want []string
	}{
		{map[string]string{}, nil},
		{map[string]string{"ACCOUNTS_PASSWORD_PEPPER": strings.Repeat("k", 32), "ACCOUNTS_AUTH_DEVICE_KEY": strings.Repeat("d", 64)}, nil},
		{map[string]string{"ACCOUNTS_PASSWORD_PEPPER": config.PlaceholderPepper},
			[]string{"password.pepper: is the placeholder of .env.example, which anyone can read; set a random secret of at least 32 bytes, for example the output of `openssl rand -hex 32` (from environment variable ACCOUNTS_PASSWORD_PEPPER)"}},
		{map[string]string{"ACCOUNTS_PASSWORD_PEPPER": "x", "ACCOUNTS_AUTH_DEVICE_KEY": strings.Repeat("d", 31)},
			[]string{"password.pepper: is 1 bytes long, shorter than 32", "auth.device_key: is 31 bytes long, shorter than 32"}},
	} {
		cfg, err := config.Load(config.Sources{Getenv: env(c.vars)})
		if err != nil {
			t.Fatal(err)
		}
		got := cfg.WeakSecrets()
		if len(got) != len(c.want) {
			t.Fatalf("WeakSecrets with %v = %q, want %d problems", c.vars, got, len(c.want))
		}
		for i, w := range c.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("WeakSecrets with %v: %q, want it to start with %q", c.vars, got[i], w)
			}
		}
	}
}
