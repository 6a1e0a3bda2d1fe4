package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/internal/syncbuf"
	"accounts/internal/testdb"
)

func runCapture(env map[string]string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"accounts"}, args...), func(k string) string { return env[k] }, time.Now, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestConfigShow checks the command end to end: sources named, secrets
// redacted.
func TestConfigShow(t *testing.T) {
	t.Parallel()
	out, _, err := runCapture(map[string]string{
		"DATABASE_URL":             "postgres://u:very-secret-pw@db.example:5432/app",
		"ACCOUNTS_PASSWORD_PEPPER": "pepper-secret",
	}, "config", "show", "--log-level", "warn")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`database.url = "postgres://u:xxxxx@db.example:5432/app"  # environment variable DATABASE_URL`,
		`log.level = "warn"  # flag --log-level`,
		`password.pepper = "xxxxx"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "very-secret-pw") || strings.Contains(out, "pepper-secret") {
		t.Errorf("config show leaks a secret:\n%s", out)
	}
}

// TestBadConfigStopsEveryCommand checks that a bad value stops start-up
// with the key and its source, before anything connects.
func TestBadConfigStopsEveryCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve"}, {"wait-db"}, {"migrate", "status"}, {"config", "show"}} {
		_, _, err := runCapture(map[string]string{"ACCOUNTS_DATABASE_POOL_SIZE": "-1"}, args...)
		if err == nil || !strings.Contains(err.Error(), "database.pool_size: must not be negative, got -1 (from environment variable ACCOUNTS_DATABASE_POOL_SIZE)") {
			t.Errorf("%v: err = %v", args, err)
		}
	}
}

// TestWaitDBCommandGivesUp runs wait-db against a port where nothing
// listens and expects a non-zero exit that says what was tried.
func TestWaitDBCommandGivesUp(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	start := time.Now()
	_, stderr, err := runCapture(map[string]string{
		"DATABASE_URL":                    "postgres://postgres:pw-not-shown@" + addr + "/app?sslmode=disable",
		"ACCOUNTS_DATABASE_WAIT_INTERVAL": "100ms",
		"ACCOUNTS_LOG_FORMAT":             "json",
	}, "wait-db", "--wait-timeout", "600ms")
	if err == nil {
		t.Fatal("wait-db succeeded with nothing listening")
	}
	if exitCode(err) == 0 || time.Since(start) > 5*time.Second {
		t.Fatalf("exit %d after %s", exitCode(err), time.Since(start))
	}
	if !strings.Contains(err.Error(), "did not answer SELECT 1 within 600ms") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error does not say what was tried: %v", err)
	}
	if !strings.Contains(stderr, `"msg":"database not ready"`) {
		t.Errorf("failed tries not logged:\n%s", stderr)
	}
	if strings.Contains(err.Error()+stderr, "pw-not-shown") {
		t.Errorf("password leaked")
	}
}

// runDev runs `accounts dev --addr 127.0.0.1:0` in-process with env (and
// metrics.addr on a free port unless env sets it: a `make run` beside the
// tests holds the default) and returns the base URL it serves once it
// logs that it listens, and stop, which ends it and returns what it
// returned. When dev ends before it listens, the test fails with dev's
// error, which says why, and its log.
func runDev(t *testing.T, env map[string]string, stderr *syncbuf.Buffer) (base string, stop func() error) {
	t.Helper()
	if _, ok := env["ACCOUNTS_METRICS_ADDR"]; !ok {
		env["ACCOUNTS_METRICS_ADDR"] = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"accounts", "dev", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, time.Now, io.Discard, stderr)
	}()
	t.Cleanup(cancel)
	addrRe := regexp.MustCompile(`"msg":"listening".*"addr":"([^"]+)"`)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if m := addrRe.FindStringSubmatch(stderr.String()); m != nil {
			return "http://" + m[1], func() error { cancel(); return <-done }
		}
		select {
		case err := <-done:
			t.Fatalf("dev ended before it listened: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("dev did not listen within 30s:\n%s", stderr.String())
		}
	}
}

// TestDevCreatesDatabaseAndServes runs `accounts dev` against a configured
// server whose database does not exist yet: dev must create it, migrate it
// and serve, and use no private cluster since a database is configured.
func TestDevCreatesDatabaseAndServes(t *testing.T) {
	t.Parallel()
	server, err := url.Parse(testdb.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	name := "accounts_devtest_" + randomHex(4)
	target := *server
	target.Path = "/" + name
	t.Cleanup(func() { dropDatabase(t, server.String(), name) })
	env := map[string]string{
		"DATABASE_URL":          target.String(),
		"ACCOUNTS_LOG_FORMAT":   "json",
		"ACCOUNTS_DEV_DATA_DIR": reachableTempDir(t),
		// The soft memory limit is the process's, which other tests share.
		"ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB": "0",
	}
	stderr := &syncbuf.Buffer{}
	base, stop := runDev(t, env, stderr)
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("dev returned %v", err)
	}
	logs := stderr.String()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d, want 200 (database created and migrated):\n%s", resp.StatusCode, logs)
	}
	if !strings.Contains(logs, `"msg":"created database"`) || strings.Contains(logs, "private cluster") {
		t.Fatalf("dev should create the configured database and start no cluster:\n%s", logs)
	}
	// The database it created has the two roles of a deployment: the
	// owner role made the tables, and dev served as the runtime role.
	if lines := logLinesOf(logs, privilegedMsg); len(lines) != 0 {
		t.Errorf("dev served as a role that can change the schema: %v", lines)
	}
	var owner string
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, target.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if err := conn.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'users'`).Scan(&owner); err != nil || owner != name+"_owner" {
		t.Errorf("users is owned by %q (%v), want dev's owner role %s_owner", owner, err, name)
	}
}
