package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"accounts/internal/devinfra/pgcluster"
)

// TestServeBeforeDatabase starts `serve` 5 s before its database (a
// private cluster, stopped, then started again on its port) and expects it
// to be ready (/readyz 200) within 2 s of the database accepting
// connections. serve retries SELECT 1 every database.wait_interval (200 ms
// here): a try against a port where nothing listens fails at once, so the
// delay is at most one interval plus opening the pool. With the default
// interval of 1 s that worst case is about 1 s; when the host drops
// packets instead of refusing them, one try can last up to
// max(wait_interval, 5 s) before the next begins.
func TestServeBeforeDatabase(t *testing.T) {
	directOnly(t)
	t.Parallel()
	pg := startPrivateCluster(t)
	ctx := context.Background()
	if _, err := pgcluster.EnsureDatabase(ctx, pg.URL("postgres"), "accounts"); err != nil {
		t.Fatal(err)
	}
	migrateDatabase(t, pg.URL("accounts"))
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pg.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}

	// The URL carries the cluster's generated password, which must never
	// show in a log line.
	dbPassword := pg.Password()
	started := time.Now()
	s := launchServer(t, pg.URL("accounts"), map[string]string{
		"ACCOUNTS_DATABASE_WAIT_INTERVAL": "200ms",
		"ACCOUNTS_DATABASE_WAIT_TIMEOUT":  "1m",
		"ACCOUNTS_LOG_LEVEL":              "info",
	})
	s.addSecret(dbPassword)
	time.Sleep(5 * time.Second)
	tries := strings.Count(s.stderr.String(), `"msg":"database not ready"`)
	if strings.Contains(s.stderr.String(), `"msg":"listening"`) {
		t.Fatal("serve listens before its database is up")
	}
	if tries < 10 {
		t.Fatalf("%d failed tries logged in 5 s, want one every 200ms:\n%s", tries, s.stderr.String())
	}

	restartCluster(t, pg)
	up := time.Now()
	s.waitListening(10 * time.Second)
	listening := time.Since(up)
	s.loadDocument()
	c := s.newClient(false)
	for {
		r := c.do("GET", "/readyz", nil)
		if r.StatusCode == http.StatusOK {
			break
		}
		if time.Since(up) > 5*time.Second {
			t.Fatalf("/readyz still %d 5 s after the database came up: %s", r.StatusCode, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ready := time.Since(up)
	if ready > 2*time.Second {
		t.Errorf("ready %s after the database came up, want within 2s", ready.Round(time.Millisecond))
	}
	t.Logf("serve started %s before its database; %d failed tries logged meanwhile; listening %s and /readyz 200 %s after the database accepted connections",
		up.Sub(started).Round(time.Millisecond), tries, listening.Round(time.Millisecond), ready.Round(time.Millisecond))
}

// TestServeWithoutDatabase runs the binary's `serve` where no database
// will ever answer: it must exit non-zero once database.wait_timeout has
// passed, without listening, with a last line that says what was tried,
// how often, and why it failed, and no password.
func TestServeWithoutDatabase(t *testing.T) {
	directOnly(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dbPassword := "dbpw-" + randomHex(8)
	suiteSecrets.add(t.Name(), dbPassword)
	accountsBinary(t) // built before the clock starts
	start := time.Now()
	p := startProc(t, map[string]string{
		"DATABASE_URL":                    "postgres://postgres:" + dbPassword + "@127.0.0.1:" + strconv.Itoa(port) + "/accounts?sslmode=disable",
		"ACCOUNTS_DATABASE_WAIT_TIMEOUT":  "2s",
		"ACCOUNTS_DATABASE_WAIT_INTERVAL": "200ms",
		"ACCOUNTS_LOG_FORMAT":             "json",
	}, "serve", "--addr", "127.0.0.1:0")
	code := p.wait(t, 15*time.Second)
	took := time.Since(start)
	stderr := p.stderr.String()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if code == 0 {
		t.Fatalf("serve exited 0 without a database:\n%s", stderr)
	}
	if took < 2*time.Second || took > 4*time.Second {
		t.Errorf("serve exited after %s, want soon after the 2s wait_timeout", took.Round(time.Millisecond))
	}
	for _, want := range []string{"accounts: database at postgres://postgres:xxxxx@127.0.0.1:" + strconv.Itoa(port) + "/accounts",
		"did not answer SELECT 1 within 2s", "one every 200ms", "last error:", "connection refused"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line lacks %q: %s", want, last)
		}
	}
	if strings.Contains(stderr, `"msg":"listening"`) || strings.Contains(stderr+p.stdout.String(), dbPassword) {
		t.Errorf("listened or leaked the password:\n%s", stderr)
	}
	t.Logf("exit status %d after %s; %d failed tries logged; last line: %s",
		code, took.Round(time.Millisecond), strings.Count(stderr, "database not ready"), last)
}
