package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/internal/migrate"
	"accounts/internal/testdb"
	"accounts/migrations"
)

// This file holds the end-to-end tests of the operations side: request
// logs, metrics, readiness, graceful shutdown and the healthcheck command,
// on the harness of api_harness_test.go. They are not api_*_test.go: they
// watch the service's own connections and listeners, which PgBouncer
// (TestThroughPgBouncer) would stand in front of.

// logLines returns the server's JSON log lines whose fields include want.
func (s *server) logLines(want map[string]any) []map[string]any {
	s.t.Helper()
	var found []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue // checkSecrets reports lines that are not JSON
		}
		match := true
		for k, v := range want {
			if line[k] != v {
				match = false
			}
		}
		if match {
			found = append(found, line)
		}
	}
	return found
}

// waitLog waits up to 5 s for a log line with the fields of want: the
// request line is written after the response has been sent.
func (s *server) waitLog(want map[string]any) []map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if found := s.logLines(want); len(found) > 0 || time.Now().After(deadline) {
			return found
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRequestLogLineEndToEnd: a request gives exactly one JSON log line
// with method, route template, path, status, latency, request id and
// client address; the X-Request-ID sent is the one returned and logged,
// and the SQL echo of that request carries it too (one logger for all).
func TestRequestLogLineEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_DATABASE_ECHO": "true"})
	c := s.newClient(false)
	c.signUp("logan1", "logan-password")
	c.login("logan1", "logan-password")

	r := c.do("GET", "/api/v1/account", nil, opts{header: map[string]string{"X-Request-ID": "e2e-request-1"}})
	expect(t, r, http.StatusOK)
	if got := r.Header.Get("X-Request-ID"); got != "e2e-request-1" {
		t.Errorf("X-Request-ID %q returned, want the one sent", got)
	}
	lines := s.waitLog(map[string]any{"msg": "request", "request_id": "e2e-request-1"})
	if len(lines) != 1 {
		t.Fatalf("%d request lines for one request: %v", len(lines), lines)
	}
	want := map[string]any{
		"level":  "INFO",
		"method": "GET",
		"route":  "/api/v1/account",
		"path":   "/api/v1/account",
		"status": float64(200),
		"client": "127.0.0.1",
	}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("request line %s = %v, want %v: %v", k, lines[0][k], v, lines[0])
		}
	}
	if ms, ok := lines[0]["latency_ms"].(float64); !ok || ms <= 0 {
		t.Errorf("request line latency_ms = %v, want a positive number: %v", lines[0]["latency_ms"], lines[0])
	}
	if sql := s.logLines(map[string]any{"msg": "sql", "request_id": "e2e-request-1"}); len(sql) == 0 {
		t.Errorf("no SQL echo line carries the request id:\n%s", s.stderr.String())
	}

	// Without an id, or with one that is not a sane token, one is made up,
	// returned and logged.
	r = c.do("GET", "/api/v1/users/00000000-0000-0000-0000-000000000000", nil, opts{header: map[string]string{"X-Request-ID": "two words"}})
	made := r.Header.Get("X-Request-ID")
	if made == "" || made == "two words" {
		t.Fatalf("X-Request-ID %q returned for an insane one", made)
	}
	lines = s.waitLog(map[string]any{"msg": "request", "request_id": made})
	if len(lines) != 1 || lines[0]["route"] != "/api/v1/users/:id" || lines[0]["status"] != float64(r.StatusCode) {
		t.Errorf("request line for the made-up id %q: %v", made, lines)
	}
	if len(s.logLines(map[string]any{"request_id": "two words"})) != 0 {
		t.Error("the insane request id was logged")
	}
}

// metricLine finds the sample of series (name and labels as the text
// format writes them) in a Prometheus text body.
func metricLine(body, series string) (string, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v, true
		}
	}
	return "", false
}

// migrationHead is the last version of the embedded migration directory.
func migrationHead(t *testing.T) string {
	t.Helper()
	head, err := migrate.Head(&migrate.EmbeddedDir{FS: migrations.FS})
	if err != nil {
		t.Fatal(err)
	}
	return head
}

// TestMetricsEndToEnd: /metrics counts requests by method, route template
// (unmatched ones under "unmatched") and status, and exposes the pool, the
// hasher and the migration version, which is known before any /readyz.
func TestMetricsEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	expect(t, c.do("GET", "/livez", nil), http.StatusOK)
	expect(t, c.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, c.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, c.do("GET", "/no/such/route", nil), http.StatusNotFound, "not_found")

	r := s.getMetrics()
	expect(t, r, http.StatusOK)
	body := string(r.body)
	want := map[string]string{
		`accounts_http_requests_total{method="GET",route="/livez",status="200"}`:                                     "1",
		`accounts_http_requests_total{method="GET",route="/api/v1/account",status="401"}`:                            "2",
		`accounts_http_requests_total{method="GET",route="unmatched",status="404"}`:                                  "1",
		`accounts_http_request_duration_seconds_count{method="GET",route="/api/v1/account",status="401"}`:            "2",
		`accounts_http_request_duration_seconds_bucket{method="GET",route="/api/v1/account",status="401",le="+Inf"}`: "2",
		`accounts_password_hasher_capacity`:                                                                          "4",
		`accounts_migration_info{build="` + migrationHead(t) + `",newer="0",version="` + migrationHead(t) + `"}`:     "1",
	}
	for series, value := range want {
		if got, ok := metricLine(body, series); !ok || got != value {
			t.Errorf("%s = %q (present %v), want %s", series, got, ok, value)
		}
	}
	for _, series := range []string{
		"accounts_db_pool_connections", "accounts_db_pool_idle_connections", "accounts_db_pool_in_use_connections",
		"accounts_db_pool_acquires_total", "accounts_db_pool_acquire_wait_seconds_total",
		"accounts_db_pool_connections_opened_total", "accounts_password_hasher_in_use",
		"accounts_password_hasher_rejected_total", "go_goroutines",
		"accounts_http_connections_open", "accounts_http_connections_max",
		"accounts_http_connections_shed_total", "accounts_http_connections_refused_total",
	} {
		if _, ok := metricLine(body, series); !ok {
			t.Errorf("no %s in /metrics", series)
		}
	}
	if strings.Contains(body, "/no/such/route") {
		t.Error("an unmatched path became a label: the number of series would be unbounded")
	}
}

var metricsAddrRe = regexp.MustCompile(`"msg":"metrics listening".*"addr":"([^"]+)"`)

// TestMetricsOnSeparateAddress: with metrics.addr set, /metrics moves to a
// listener of its own (which serves nothing else), counts the API's
// requests, and stops with the server.
func TestMetricsOnSeparateAddress(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_METRICS_ADDR": "127.0.0.1:0"})
	m := metricsAddrRe.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no metrics listener logged:\n%s", s.stderr.String())
	}
	metricsBase := "http://" + m[1]
	c := s.newClient(false)
	expect(t, c.do("GET", "/metrics", nil), http.StatusNotFound, "not_found")
	expect(t, c.do("GET", "/livez", nil), http.StatusOK)

	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		return resp.StatusCode, b.String()
	}
	status, body := get(metricsBase + "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET %s/metrics = %d", metricsBase, status)
	}
	if v, ok := metricLine(body, `accounts_http_requests_total{method="GET",route="/livez",status="200"}`); v != "1" {
		t.Errorf("the metrics listener does not count the API's requests: /livez = %q (present %v)", v, ok)
	}
	if v, ok := metricLine(body, `accounts_http_requests_total{method="GET",route="unmatched",status="404"}`); v != "1" {
		t.Errorf("GET /metrics on the API address is not counted as unmatched: %q (present %v)", v, ok)
	}
	if status, _ := get(metricsBase + "/livez"); status != http.StatusNotFound {
		t.Errorf("the metrics listener serves /livez: %d", status)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if conn, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
		_ = conn.Close()
		t.Error("the metrics listener still accepts connections after the server stopped")
	}
}

// TestMetricsDisabled: with metrics.enabled false there is no /metrics
// anywhere, even with metrics.addr set.
func TestMetricsDisabled(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_METRICS_ENABLED": "false", "ACCOUNTS_METRICS_ADDR": "127.0.0.1:0"})
	expect(t, s.newClient(false).do("GET", "/metrics", nil), http.StatusNotFound, "not_found")
	if metricsAddrRe.MatchString(s.stderr.String()) {
		t.Errorf("a metrics listener started although metrics.enabled is false:\n%s", s.stderr.String())
	}
}

// TestReadinessReadsTheRevisionTableOfTheSearchPath: for a URL that binds
// search_path, the Atlas CLI keeps the revision table in that schema;
// /readyz must read it there, not in atlas_schema_revisions.
func TestReadinessReadsTheRevisionTableOfTheSearchPath(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `ALTER TABLE atlas_schema_revisions.atlas_schema_revisions SET SCHEMA public`)
	_ = conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "public")
	u.RawQuery = q.Encode()

	s := startServer(t, map[string]string{"DATABASE_URL": u.String()})
	c := s.newClient(false)
	r := c.do("GET", "/readyz", nil)
	expect(t, r, http.StatusOK)
	r = s.getMetrics()
	if v, ok := metricLine(string(r.body), `accounts_migration_info{build="`+migrationHead(t)+`",newer="0",version="`+migrationHead(t)+`"}`); v != "1" {
		t.Errorf("migration version not read from public.atlas_schema_revisions: %q (present %v)", v, ok)
	}
}

// TestReadinessTimeout: when the database does not answer, /readyz says so
// within http.ready_timeout instead of hanging, and recovers after.
func TestReadinessTimeout(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_HTTP_READY_TIMEOUT": "500ms"})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op once committed
	// Every read of the revision table now waits for this transaction.
	if _, err := tx.Exec(ctx, `LOCK TABLE atlas_schema_revisions.atlas_schema_revisions IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	c := s.newClient(false)
	start := time.Now()
	r := c.do("GET", "/readyz", nil)
	took := time.Since(start)
	expect(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if d := r.problem(t).Detail; !strings.Contains(d, "within 500ms") {
		t.Errorf("readyz detail %q does not say it gave up after http.ready_timeout", d)
	}
	if took > 3*time.Second {
		t.Errorf("readyz took %s with http.ready_timeout 500ms", took)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, c.do("GET", "/readyz", nil), http.StatusOK)
}

// hostPort is the host:port the server listens on.
func (s *server) hostPort() string {
	return strings.TrimPrefix(s.base, "http://")
}

// holdUserRow locks the user's row in a transaction of its own, so that an
// admin change of that user waits; release ends the transaction.
func (s *server) holdUserRow(id string) (release func()) {
	s.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
		s.t.Fatal(err)
	}
	released := false
	release = func() {
		if !released {
			released = true
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		}
	}
	s.t.Cleanup(release)
	return release
}

// waitForLockWait waits until a backend of the server's database waits on
// a lock: the in-flight request has reached the database and is stuck.
func (s *server) waitForLockWait() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.queryInt(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 0 {
		if time.Now().After(deadline) {
			s.t.Fatal("the request never waited on the row lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// appConnections counts the server's connections to its database: every
// backend but this query's own and those of except.
func (s *server) appConnections(except ...uint32) int {
	s.t.Helper()
	pids := make([]int64, len(except))
	for i, p := range except {
		pids[i] = int64(p)
	}
	return s.queryInt(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT pid = ANY($1)`, pids)
}

// inFlight sends a request in the background and reports its status, or
// the error that ended it.
func (s *server) inFlight(method, path, token string) <-chan string {
	result := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(method, s.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			result <- "error: " + err.Error()
			return
		}
		_ = resp.Body.Close()
		result <- fmt.Sprint(resp.StatusCode)
	}()
	return result
}

// waitRefused waits until a new TCP connection to addr is refused.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
		} else if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections to %s are still accepted (last: %v)", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGracefulShutdown: told to stop (SIGINT/SIGTERM cancel run's
// context) while a request is in flight, the server refuses new
// connections at once, lets the request finish and answer, closes the
// pool and returns nil (exit 0).
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_HTTP_SHUTDOWN_TIMEOUT": "20s"})
	admin, _ := s.as(nil, "super_admin", "boss1")
	_, target := s.as(nil, "user", "target1")

	release := s.holdUserRow(target)
	result := s.inFlight("DELETE", "/api/v1/users/"+target+"/activation", admin.token)
	s.waitForLockWait()

	s.cancel()
	if len(s.waitLog(map[string]any{"msg": "shutting down"})) == 0 {
		t.Fatal("no shutting down line")
	}
	waitRefused(t, s.hostPort())
	select {
	case r := <-result:
		t.Fatalf("the in-flight request ended before its lock was released: %s", r)
	default:
	}
	if len(s.done) != 0 {
		t.Fatal("run returned while a request was in flight")
	}

	release()
	select {
	case r := <-result:
		if r != "204" {
			t.Fatalf("in-flight request ended with %s, want 204", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the in-flight request did not finish after its lock was released")
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run returned %v, want nil (exit 0)", err)
	}
	if s.queryInt(`SELECT count(*) FROM users WHERE id = $1 AND NOT is_active`, target) != 1 {
		t.Error("the in-flight deactivation answered 204 but did not take effect")
	}
	// Backends go away a moment after the client closes its connection.
	deadline := time.Now().Add(5 * time.Second)
	for n := s.appConnections(); n != 0; n = s.appConnections() {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections of the server are still open after run returned: the pool was not closed", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(s.logLines(map[string]any{"msg": "stopped"})) != 1 {
		t.Error("no stopped line")
	}
}

// TestShutdownTimeoutCutsStuckRequests: a request still running when
// http.shutdown_timeout ends is cut off (its query cancelled, its change
// rolled back), the pool still closes while the database lock is held, and
// run reports the unfinished drain as an error (exit 1).
func TestShutdownTimeoutCutsStuckRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_HTTP_SHUTDOWN_TIMEOUT": "1s"})
	admin, _ := s.as(nil, "super_admin", "boss2")
	_, target := s.as(nil, "user", "target2")

	release := s.holdUserRow(target)
	lockPID := uint32(s.queryInt(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`))
	result := s.inFlight("DELETE", "/api/v1/users/"+target+"/activation", admin.token)
	s.waitForLockWait()

	start := time.Now()
	err := s.stopFailing()
	if err == nil || !strings.Contains(err.Error(), "did not finish within 1s") {
		t.Fatalf("run returned %v, want the unfinished drain", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("run took %s to return with http.shutdown_timeout 1s", took)
	}
	select {
	case r := <-result:
		if !strings.HasPrefix(r, "error") {
			t.Errorf("the cut-off request answered %s, want a closed connection", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cut-off request's client saw nothing")
	}
	// The lock is still held: the pool closed because the stuck query was
	// cancelled, not because it finished.
	deadline := time.Now().Add(5 * time.Second)
	for n := s.appConnections(lockPID); n != 0; n = s.appConnections(lockPID) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections of the server are still open after run returned", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	release()
	if s.queryInt(`SELECT count(*) FROM users WHERE id = $1 AND is_active`, target) != 1 {
		t.Error("the cut-off deactivation took effect")
	}
}

// stopFailing is stop for a test that expects run to fail: it returns the
// error and clears it, so that the cleanup does not report it again.
func (s *server) stopFailing() error {
	err := s.stop()
	s.stopErr = nil
	return err
}

// TestHealthcheckCommand: `accounts healthcheck` exits 0 when /readyz
// answers 200 and 1 with /readyz's reason otherwise, or with why nothing
// answered. Without --url it probes http.addr on the loopback address.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	_, port, _ := net.SplitHostPort(s.hostPort())
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	env["ACCOUNTS_HTTP_ADDR"] = ":" + port // as in the container

	out, err := runWithStdin(env, "", "healthcheck")
	if err != nil || !strings.Contains(out, "ready") {
		t.Fatalf("healthcheck of a ready server: %v\n%s", err, out)
	}
	if out, err := runWithStdin(env, "", "healthcheck", "--url", s.base+"/readyz"); err != nil {
		t.Fatalf("healthcheck --url: %v\n%s", err, out)
	}

	// Behind the binary's migrations: not ready, and the reason is given.
	s.sql(`DELETE FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = (SELECT max(version) FROM atlas_schema_revisions.atlas_schema_revisions)`)
	_, err = runWithStdin(env, "", "healthcheck")
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "lacks 1 migration of this build") || exitCode(err) != 1 {
		t.Fatalf("healthcheck of a server behind its migrations: %v (exit %d)", err, exitCode(err))
	}

	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	_, err = runWithStdin(env, "", "healthcheck", "--url", "http://"+closed+"/readyz", "--timeout", "2s")
	if err == nil || !strings.Contains(err.Error(), closed) || exitCode(err) != 1 {
		t.Fatalf("healthcheck of nothing: %v", err)
	}
}

func TestReadyURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/readyz",
		"[::]:8080":      "http://[::1]:8080/readyz",
		"127.0.0.1:8081": "http://127.0.0.1:8081/readyz",
		"app.local:80":   "http://app.local:80/readyz",
		"[::1]:8080":     "http://[::1]:8080/readyz",
	} {
		if got := readyURL(addr); got != want {
			t.Errorf("readyURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
