package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/internal/testdb"
	"accounts/migrations"
)

// TestReplicas starts three `serve --migrate` processes of the built
// binary at once against one empty database. All three must become ready;
// the migrations must be applied once (one revision row per file, each
// fully applied, and one process reporting that it applied them while the
// others found nothing to do); and a client that sends each request to the
// next replica, with a cookie in one jar and a bearer token, keeps its
// session throughout: the service keeps no state of its own.
func TestReplicas(t *testing.T) {
	directOnly(t)
	t.Parallel()
	accountsBinary(t)
	dbURL := emptyDatabase(t)
	dbURL, dbPassword := secretDatabaseURL(t, dbURL)
	suiteSecrets.add(t.Name(), dbPassword)
	pepper := "pepper-" + randomHex(16)
	suiteSecrets.add(t.Name(), pepper)
	env := procEnv(dbURL, pepper, map[string]string{
		"ACCOUNTS_DATABASE_WAIT_INTERVAL": "200ms",
		"ACCOUNTS_MIGRATE_DIR":            migrationDirWith(t, replicaFiles),
	})
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startProc(t, env, "serve", "--migrate", "--addr", "127.0.0.1:0")
	}
	started := time.Now()

	replicas := replicasReady(t, procs, env, dbURL, started)
	ready := time.Since(started)

	// Applied once: one row per file, each whole, and one applier.
	got, appliedBy := appliedOnce(t, dbURL, env["ACCOUNTS_MIGRATE_DIR"], procs)

	// One client, each request to the next replica.
	requests := oneSessionAcross(t, replicas)

	// SIGTERM: each drains and exits 0.
	for _, p := range procs {
		p.signal(t, syscall.SIGTERM)
	}
	for i, p := range procs {
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Errorf("replica %d exited %d after SIGTERM:\n%s", i, code, p.stderr.String())
		}
	}
	for _, s := range replicas {
		s.checkSecrets()
	}
	t.Logf("3 replicas ready %s after they started together; revision rows %v; files applied per replica %v; %d requests spread over them kept one session",
		ready.Round(time.Millisecond), got, appliedBy, requests)
}

// replicasReady waits for each replica (procs, started at started) to
// listen and answer /readyz 200, within 60 seconds.
func replicasReady(t *testing.T, procs []*proc, env map[string]string, dbURL string, started time.Time) []*server {
	t.Helper()
	addrRe := regexp.MustCompile(`"msg":"listening".*"addr":"([^"]+)"`)
	replicas := make([]*server, len(procs))
	for i, p := range procs {
		s := &server{t: t, env: env, stderr: p.stderr, dbURL: dbURL}
		for s.base == "" {
			if m := addrRe.FindStringSubmatch(p.stderr.String()); m != nil {
				s.base = "http://" + m[1]
				break
			}
			select {
			case <-p.done:
				t.Fatalf("replica %d exited: %v\n%s", i, p.err, p.stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Since(started) > 60*time.Second {
				t.Fatalf("replica %d did not listen within 60s:\n%s", i, p.stderr.String())
			}
		}
		s.loadDocument()
		suiteTexts.add(t.Name()+" replica responses", s.recorded)
		replicas[i] = s
	}
	for i, s := range replicas {
		c := s.newClient(false)
		for r := c.do("GET", "/readyz", nil); r.StatusCode != http.StatusOK; r = c.do("GET", "/readyz", nil) {
			if time.Since(started) > 60*time.Second {
				t.Fatalf("replica %d not ready within 60s: %s", i, r.body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return replicas
}

// appliedOnce checks that the files of dir were applied once, each whole,
// by exactly one of procs, and returns the revision rows and how many
// files each replica applied.
func appliedOnce(t *testing.T, dbURL, dir string, procs []*proc) (got []string, appliedBy []int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, strings.SplitN(filepath.Base(f), "_", 2)[0])
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(context.Background(), `SELECT version, applied, total FROM atlas_schema_revisions.atlas_schema_revisions
		WHERE version <> '.atlas_cloud_identifier' ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		var applied, total int
		if err := rows.Scan(&v, &applied, &total); err != nil {
			t.Fatal(err)
		}
		if applied != total {
			t.Errorf("revision %s: %d of %d statements applied", v, applied, total)
		}
		got = append(got, v)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("revision rows %v, want one per file %v", got, want)
	}
	appliedBy = make([]int, len(procs))
	appliers := 0
	for i, p := range procs {
		for _, line := range logLinesOf(p.stderr.String(), "migrations applied") {
			n, _ := line["files"].(float64)
			appliedBy[i] += int(n)
		}
		if appliedBy[i] > 0 {
			appliers++
		}
	}
	if appliers != 1 || slices.Max(appliedBy) != len(files) {
		t.Fatalf("files applied by each replica: %v; want %d by exactly one", appliedBy, len(files))
	}
	return got, appliedBy
}

// oneSessionAcross sends one browser's and one bearer client's requests
// to the next replica each time: one session holds across them, and a
// password change and a logout end it on every replica. It returns how
// many requests it sent.
func oneSessionAcross(t *testing.T, replicas []*server) int {
	t.Helper()
	pw, pw2 := "replica-pw-"+randomHex(6), "replica-pw-"+randomHex(6)
	next := 0
	on := func(c *client) *client {
		c.s = replicas[next%len(replicas)]
		next++
		return c
	}
	browser := replicas[0].newClient(true)
	on(browser).signUp("wanda", pw)
	on(browser).login("wanda", pw)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	requests := 2
	for range 9 {
		expect(t, on(browser).do("GET", "/api/v1/account", nil), http.StatusOK)
		requests++
	}
	bearer := replicas[0].newClient(false)
	on(bearer).login("wanda", pw)
	requests++
	for range 6 {
		expect(t, on(bearer).do("GET", "/api/v1/account", nil), http.StatusOK)
		requests++
	}
	replicas[0].addSecret(pw2)
	expect(t, on(browser).do("PUT", "/api/v1/account/password", map[string]string{"current_password": pw, "new_password": pw2}), http.StatusOK)
	// The password change ended the other session, on every replica.
	for range 3 {
		expect(t, on(bearer).do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	}
	expect(t, on(browser).do("GET", "/api/v1/account", nil), http.StatusOK)
	expect(t, on(browser).do("DELETE", "/api/v1/account/logout", nil, opts{header: jsonCT}), http.StatusNoContent)
	for range 3 {
		expect(t, on(browser).do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	}
	requests += 9
	return requests
}

// replicaFiles follow the embedded migrations in TestReplicas, so that
// several files must each be applied once.
var replicaFiles = map[string]string{
	"20990101000001_audit.sql":       `CREATE TABLE "audit" ("id" bigserial NOT NULL, "at" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("id"));` + "\n",
	"20990101000002_audit_index.sql": `CREATE INDEX "audit_at" ON "audit" ("at");` + "\n",
}

// migrationDirWith writes the embedded migrations and extra files into a
// directory of the test's own, hashed with `accounts migrate hash`.
func migrationDirWith(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "migrations")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(migrations.FS, "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		b, err := migrations.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, err := runCapture(nil, "migrate", "hash", "--dir", dir); err != nil {
		t.Fatalf("migrate hash --dir %s: %v\n%s", dir, err, stderr)
	}
	return dir
}

// emptyDatabase creates a database with nothing in it on the test server
// and drops it when the test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	server, err := url.Parse(testdb.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	name := "accounts_empty_" + randomHex(4)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server.String())
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	target := *server
	target.Path = "/" + name
	return target.String()
}

// logLinesOf returns the JSON log lines of logs whose msg is msg.
func logLinesOf(logs, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v map[string]any
		if json.Unmarshal(sc.Bytes(), &v) == nil && v["msg"] == msg {
			out = append(out, v)
		}
	}
	return out
}
