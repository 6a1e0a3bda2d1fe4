package main

import (
	"context"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"accounts/internal/config"
	"accounts/internal/syncbuf"
	"accounts/internal/testdb"
)

// The tests in this file are issue 22's finding 4: secrets that are
// placeholders, too short, or not the server's.

// secretsEnv is the environment of a serve or dev on a fresh database.
func secretsEnv(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":                      testdb.URL(t),
		"ACCOUNTS_LOG_FORMAT":               "json",
		"ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB": "0",
		"ACCOUNTS_METRICS_ADDR":             "127.0.0.1:0",
		"ACCOUNTS_DEV_DATA_DIR":             reachableTempDir(t),
	}
	maps.Copy(env, extra)
	return env
}

// TestServeRefusesWeakSecrets: serve does not start with the pepper of
// .env.example, or with a pepper or device key shorter than 32 bytes; it
// names the key and says what to set.
func TestServeRefusesWeakSecrets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, key, value, want string
	}{
		{"placeholder pepper", "ACCOUNTS_PASSWORD_PEPPER", config.PlaceholderPepper, "password.pepper: is the placeholder of .env.example"},
		{"one-byte pepper", "ACCOUNTS_PASSWORD_PEPPER", "x", "password.pepper: is 1 bytes long"},
		{"31-byte pepper", "ACCOUNTS_PASSWORD_PEPPER", strings.Repeat("p", 31), "password.pepper: is 31 bytes long"},
		{"short device key", "ACCOUNTS_AUTH_DEVICE_KEY", "short-device-key", "auth.device_key: is 16 bytes long"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := secretsEnv(t, map[string]string{c.key: c.value})
			if len(c.value) > 8 {
				suiteSecrets.add(t.Name(), c.value)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			var stderr syncbuf.Buffer
			err := run(ctx, []string{"accounts", "serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, time.Now, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "openssl rand -hex 32") {
				t.Fatalf("serve with %s returned %v; want an error containing %q and how to make a good one\n%s", c.name, err, c.want, stderr.String())
			}
			if strings.Contains(err.Error(), c.value) && len(c.value) > 1 {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestDevWarnsAboutPlaceholderPepper: dev, for trying the service out,
// starts with the placeholder pepper but says loudly that it is one.
func TestDevWarnsAboutPlaceholderPepper(t *testing.T) {
	t.Parallel()
	env := secretsEnv(t, map[string]string{"ACCOUNTS_PASSWORD_PEPPER": config.PlaceholderPepper})
	stderr := &syncbuf.Buffer{}
	_, stop := runDev(t, env, stderr)
	if err := stop(); err != nil {
		t.Fatalf("dev returned %v", err)
	}
	if logs := stderr.String(); !strings.Contains(logs, `"level":"WARN","msg":"INSECURE SECRET: password.pepper: is the placeholder of .env.example`) {
		t.Fatalf("dev gave no loud warning about the placeholder pepper:\n%s", logs)
	}
}

// TestCreateSuperAdminWithAnotherPepper: create-superadmin run with a
// pepper other than the one the database's hashes were made with refuses,
// naming both key ids; on an empty database it cannot tell, so it says
// which key id it used, and the server, at the failed login, logs the
// mismatch by key id instead of a silent 401.
func TestCreateSuperAdminWithAnotherPepper(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	other := "another-pepper-" + randomHex(16)
	s.addSecret(other)
	env := maps.Clone(s.env)
	env["ACCOUNTS_PASSWORD_PEPPER"] = other
	env[superAdminPasswordEnv] = "root-password-1"
	s.addSecret("root-password-1")

	// An empty database: nothing to compare with.
	out, err := runWithStdin(env, "", "users", "create-superadmin", "--username", "root1")
	if err != nil || !regexp.MustCompile(`created super admin root1 \(id [0-9a-f-]+, password hash key id [A-Za-z0-9+/]{8}\)`).MatchString(out) {
		t.Fatalf("create-superadmin on an empty database: %v\n%s", err, out)
	}
	r := s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "root1", "password": "root-password-1"})
	expect(t, r, http.StatusUnauthorized, "invalid_credentials")
	logRe := regexp.MustCompile(`"level":"WARN","msg":"a password hash was made with another password.pepper than this server's.*"hash_key_id":"[A-Za-z0-9+/]{8}".*"server_key_id":"[A-Za-z0-9+/]{8}"`)
	if !logRe.MatchString(s.stderr.String()) {
		t.Fatalf("the server did not log the pepper mismatch at login:\n%s", s.stderr.String())
	}

	// With users of the server's pepper in the database, it can tell.
	s = startServer(t, nil)
	s.newClient(false).signUp("user1", "user-password")
	env = maps.Clone(s.env)
	env["ACCOUNTS_PASSWORD_PEPPER"] = other
	env[superAdminPasswordEnv] = "root-password-1"
	out, err = runWithStdin(env, "", "users", "create-superadmin", "--username", "root2")
	if err == nil || !strings.Contains(err.Error(), "password.pepper (key id ") || !strings.Contains(err.Error(), "is not the pepper the password hashes in this database were made with") {
		t.Fatalf("create-superadmin with another pepper than the users': %v\n%s", err, out)
	}
}
