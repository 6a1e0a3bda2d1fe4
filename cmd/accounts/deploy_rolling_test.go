package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"accounts/internal/testdb"
)

// expandFile is the next release's migration in TestRollingDeploy: an
// additive change, as the expand step of an expand/contract deploy ships
// it. The index is built CONCURRENTLY, outside a transaction (the
// directive must be followed by a blank line to belong to the file), so
// that the old release keeps writing to users while it builds.
const (
	expandVersion = "20990301000000"
	expandName    = expandVersion + "_nickname"
	expandFile    = `-- atlas:txmode none

ALTER TABLE "users" ADD COLUMN "nickname" character varying NULL;
CREATE INDEX CONCURRENTLY "users_nickname" ON "users" ("nickname");
`
)

// TestRollingDeploy runs two builds side by side on one database, as a
// rolling deploy does: "old" uses the migration directory without its last
// file, "new" the whole directory, whose last file is additive. Under
// continuous requests to both:
//
//   - new starts with `serve --migrate` and applies the file;
//   - old stays ready (/readyz 200 at every probe) and answers every
//     request without a 5xx, before, during and after the migration;
//   - an old replica (re)started after the migration, with --migrate, is
//     ready, logs at INFO that the database is one migration ahead, and
//     logs no warning;
//   - old stops, and new serves alone, without a 5xx.
func TestRollingDeploy(t *testing.T) {
	directOnly(t)
	t.Parallel()
	dbURL := testdb.URL(t)
	oldDir := migrationDirWith(t, nil)
	newDir := migrationDirWith(t, map[string]string{expandName + ".sql": expandFile})
	quiet := map[string]string{"ACCOUNTS_LOG_LEVEL": "info", "ACCOUNTS_DATABASE_POOL_SIZE": "2"}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range quiet {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}

	old := startServerOn(t, dbURL, with(map[string]string{"ACCOUNTS_MIGRATE_DIR": oldDir}))
	t0 := time.Now()
	oldLoad := startDeployLoad(old, "old", t0)
	time.Sleep(time.Second)

	// The new release: `serve --migrate` listens once the file is applied.
	newer := startServerOn(t, dbURL, with(map[string]string{"ACCOUNTS_MIGRATE_DIR": newDir, "ACCOUNTS_MIGRATE_ON_START": "true"}))
	applied := time.Now()
	newLoad := startDeployLoad(newer, "new", t0)
	if n := len(logLinesOf(newer.stderr.String(), "migrations applied")); n != 1 {
		t.Fatalf("the new release logged %d \"migrations applied\" lines, want 1:\n%s", n, newer.stderr.String())
	}

	// An old replica that starts now, mid-deploy, with --migrate.
	late := startServerOn(t, dbURL, with(map[string]string{"ACCOUNTS_MIGRATE_DIR": oldDir, "ACCOUNTS_MIGRATE_ON_START": "true"}))
	expect(t, late.newClient(false).do("GET", "/readyz", nil), http.StatusOK)
	ahead := logLinesOf(late.stderr.String(), "database has 1 migration newer than this build: "+expandName)
	if len(ahead) != 1 || ahead[0]["level"] != "INFO" {
		t.Errorf("the old replica started on the newer database logged %v, want one INFO line naming %s:\n%s", ahead, expandName, late.stderr.String())
	}
	for _, s := range []*server{old, late} {
		// The test database's role owns its tables, which serve warns
		// about (TestRuntimeRoleOnlyReadsAndWritesRows); no other warning.
		for _, line := range s.logLines(map[string]any{"level": "WARN"}) {
			if line["msg"] != privilegedMsg {
				t.Errorf("an old replica logged a warning on a database one additive migration ahead: %v", line)
			}
		}
	}
	r := old.getMetrics()
	series := `accounts_migration_info{build="` + migrationHead(t) + `",newer="1",version="` + expandVersion + `"}`
	if v, ok := metricLine(string(r.body), series); v != "1" {
		t.Errorf("%s = %q (present %v) on the old release", series, v, ok)
	}
	if err := late.stop(); err != nil {
		t.Errorf("the late old replica: %v", err)
	}

	time.Sleep(1500 * time.Millisecond)
	oldLoad.stop()
	oldStopped := time.Now()
	if err := old.stop(); err != nil {
		t.Errorf("old serve returned %v", err)
	}
	time.Sleep(time.Second)
	newLoad.stop()

	// The file is applied whole: the column exists and the index is valid.
	columns := newer.queryInt(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'`)
	validIndexes := newer.queryInt(`SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'users_nickname' AND i.indisvalid`)
	if columns != 1 || validIndexes != 1 {
		t.Errorf("after the new release applied %s: %d nickname columns, %d valid users_nickname indexes", expandName, columns, validIndexes)
	}
	for _, l := range []*deployLoad{oldLoad, newLoad} {
		l.check(t)
	}
	t.Logf("old release: %s; stopped at +%s", oldLoad.summary(), oldStopped.Sub(t0).Round(time.Millisecond))
	t.Logf("new release: listening (file applied) at +%s; %s", applied.Sub(t0).Round(time.Millisecond), newLoad.summary())
}

// deployLoad is continuous traffic to one server of TestRollingDeploy: two
// clients that sign up, log in and read their account in a loop, and a
// prober that GETs /readyz every 25 ms and keeps each change of status.
type deployLoad struct {
	s      *server
	name   string
	t0     time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	httpc  *http.Client

	mu          sync.Mutex
	requests    int
	byStatus    map[int]int
	failures    []string // 5xx, transport errors and unexpected statuses
	probes      int
	transitions []string // "+1.234s 200"
	lastProbe   int
}

func startDeployLoad(s *server, name string, t0 time.Time) *deployLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &deployLoad{s: s, name: name, t0: t0, cancel: cancel, byStatus: map[int]int{},
		httpc: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	for w := range 2 {
		l.wg.Go(func() { l.client(ctx, w) })
	}
	l.wg.Go(func() {
		for ctx.Err() == nil {
			status, _, err := l.send("GET", "/readyz", "", nil)
			l.mu.Lock()
			l.probes++
			if err != nil {
				status = 0
			}
			if status != l.lastProbe {
				l.transitions = append(l.transitions, fmt.Sprintf("+%s %d", time.Since(l.t0).Round(time.Millisecond), status))
				l.lastProbe = status
			}
			l.mu.Unlock()
			time.Sleep(25 * time.Millisecond)
		}
	})
	return l
}

func (l *deployLoad) client(ctx context.Context, w int) {
	pw := "deploy-pw-" + randomHex(6)
	l.s.addSecret(pw)
	for i := 0; ctx.Err() == nil; i++ {
		name := fmt.Sprintf("%s%d_%05d", l.name, w, i)
		creds := map[string]string{"username": name, "password": pw}
		if !l.expect(http.StatusCreated)(l.send("POST", "/api/v1/account/signup", "", creds)) {
			continue
		}
		status, body, err := l.send("POST", "/api/v1/account/login", "", creds)
		if !l.expect(http.StatusOK)(status, body, err) {
			continue
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &tok)
		l.s.addToken(tok.AccessToken)
		l.expect(http.StatusOK)(l.send("GET", "/api/v1/account", tok.AccessToken, nil))
	}
}

// expect returns a func that counts one answer and keeps it as a failure
// unless its status is want.
func (l *deployLoad) expect(want int) func(int, []byte, error) bool {
	return func(status int, body []byte, err error) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.requests++
		l.byStatus[status]++
		switch {
		case err != nil:
			l.failures = append(l.failures, fmt.Sprintf("+%s: %v", time.Since(l.t0).Round(time.Millisecond), err))
		case status != want:
			l.failures = append(l.failures, fmt.Sprintf("+%s: status %d, want %d: %s", time.Since(l.t0).Round(time.Millisecond), status, want, body))
		default:
			return true
		}
		return false
	}
}

// send makes one request and records it with the harness, which checks it
// against the OpenAPI document.
func (l *deployLoad) send(method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, l.s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := l.httpc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	l.s.record(req, &response{Response: resp, body: b})
	return resp.StatusCode, b, err
}

func (l *deployLoad) stop() {
	l.cancel()
	l.wg.Wait()
	l.httpc.CloseIdleConnections()
}

// check fails the test for any failed request or any /readyz answer other
// than 200.
func (l *deployLoad) check(t *testing.T) {
	t.Helper()
	if l.requests == 0 {
		t.Errorf("%s release: no request was answered", l.name)
	}
	for i, f := range l.failures {
		if i == 10 {
			t.Errorf("%s release: … and %d more failed requests", l.name, len(l.failures)-10)
			break
		}
		t.Errorf("%s release: %s", l.name, f)
	}
	if len(l.transitions) != 1 || !strings.HasSuffix(l.transitions[0], " 200") {
		t.Errorf("%s release: /readyz went through %v, want 200 throughout", l.name, l.transitions)
	}
}

func (l *deployLoad) summary() string {
	return fmt.Sprintf("%d requests (%v by status), %d failed; /readyz probed %d times, transitions %v",
		l.requests, l.byStatus, len(l.failures), l.probes, l.transitions)
}
