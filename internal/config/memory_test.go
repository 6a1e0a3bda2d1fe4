package config_test

import (
	"errors"
	"strings"
	"testing"

	"accounts/internal/config"
)

// TestMemoryLimit checks runtime.memory_limit_mib: its default, GOMEMLIMIT
// winning over the default but not over a value set for the key, and a
// limit too small for the hashes that may run at once stopping start-up
// with the sources of the values that make it too small.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	load := func(vars map[string]string) (*config.Config, error) {
		return config.Load(config.Sources{Getenv: env(vars)})
	}
	cfg, err := load(nil)
	if err != nil || cfg.Runtime.MemoryLimitMiB != 64 {
		t.Fatalf("default: %+v, %v; want 64 MiB", cfg, err)
	}
	cfg, err = load(map[string]string{"GOMEMLIMIT": "200MiB"})
	if err != nil || cfg.Runtime.MemoryLimitMiB != 0 || !strings.Contains(cfg.Source("runtime.memory_limit_mib"), "GOMEMLIMIT") {
		t.Fatalf("with GOMEMLIMIT: limit %d from %q, %v; want 0, naming GOMEMLIMIT", cfg.Runtime.MemoryLimitMiB, cfg.Source("runtime.memory_limit_mib"), err)
	}
	cfg, err = load(map[string]string{"GOMEMLIMIT": "200MiB", "ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB": "128"})
	if err != nil || cfg.Runtime.MemoryLimitMiB != 128 {
		t.Fatalf("key and GOMEMLIMIT: %d, %v; want the key's 128", cfg.Runtime.MemoryLimitMiB, err)
	}
	_, err = load(map[string]string{"ACCOUNTS_PASSWORD_ARGON2_MEMORY_KIB": "19456", "ACCOUNTS_PASSWORD_MAX_CONCURRENT": "2"})
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("2 × 19 MiB of hashing under a 64 MiB limit: %v, want a configuration error", err)
	}
	msg := err.Error()
	for _, want := range []string{"runtime.memory_limit_mib", "(from default)", "environment variable ACCOUNTS_PASSWORD_ARGON2_MEMORY_KIB",
		"is 38 MiB", "set at least 70"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if _, err := load(map[string]string{"ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB": "-1"}); err == nil {
		t.Error("a negative limit was accepted")
	}
	if cfg, err := load(map[string]string{"ACCOUNTS_PASSWORD_ARGON2_MEMORY_KIB": "65536", "ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB": "0"}); err != nil || cfg.Runtime.MemoryLimitMiB != 0 {
		t.Errorf("0 (no limit of the service's own) with large hashes: %v", err)
	}
}
