package pgcluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/internal/database"
)

// requireBinaries skips tests that need a real server when none is
// installed, except in CI where a missing server is a broken runner.
func requireBinaries(t *testing.T) string {
	t.Helper()
	dir, err := FindBinDir(t.Context(), Options{})
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL server binaries are required in CI: %v", err)
		}
		t.Skipf("PostgreSQL server binaries not installed: %v", err)
	}
	return dir
}

// testLogger routes the package's logs into the test output so a failure
// shows what Start did.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	// Closed at the end of the test, whose checks are done by then.
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func stopOnCleanup(t *testing.T, c *Cluster) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

// TestLifecycle walks one data directory through everything a dev machine
// sees: first start, a second Start while running, restart after a clean
// stop, restart over a stale pid file, and database creation. One test keeps
// it to a single initdb.
func TestLifecycle(t *testing.T) {
	requireBinaries(t)
	// As root, the folders Start makes on the way ("data") must be open
	// to the postgres account.
	dir := filepath.Join(reachableDir(t), "data", "postgres")
	opts := Options{DataDir: dir, Logger: testLogger(t), NoSync: true}

	c := firstStart(t, opts)
	checkServes(t, c)
	port := attachThenStop(t, c, opts)
	c3 := restartKeepsData(t, opts, port)
	// A crash leaves postmaster.pid behind, and after a container restart its
	// PID may belong to an unrelated live process.
	if err := c3.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	badSettingSaysWhy(t, opts)
	c4 := startOverStalePidFile(t, opts, port)
	ensureDatabaseTwice(t, c4)
}

// firstStart runs initdb and starts the server of a new data directory.
func firstStart(t *testing.T, opts Options) *Cluster {
	t.Helper()
	began := time.Now()
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	stopOnCleanup(t, c)
	t.Logf("initdb + start took %v (port %d, socket dir %s)", time.Since(began).Round(time.Millisecond), c.Port(), c.SocketDir())
	if !c.Initialized() || c.Attached() {
		t.Errorf("first Start: Initialized=%v Attached=%v, want true, false", c.Initialized(), c.Attached())
	}
	if c.DataDir() != opts.DataDir {
		t.Errorf("DataDir() = %q, want %q", c.DataDir(), opts.DataDir)
	}
	if c.Port() == 0 || c.Port() == 5432 {
		t.Errorf("Port() = %d, want a free non-default port", c.Port())
	}
	if _, err := os.Stat(filepath.Join(c.SocketDir(), ".s.PGSQL."+strconv.Itoa(c.Port()))); err != nil {
		t.Errorf("unix socket: %v", err)
	}
	return c
}

// checkServes queries the new cluster, checks its encoding and collation,
// and writes the row restartKeepsData reads back.
func checkServes(t *testing.T, c *Cluster) {
	t.Helper()
	ctx := t.Context()
	if err := database.Ping(ctx, c.URL("postgres"), 5*time.Second); err != nil {
		t.Fatalf("Ping of the running cluster: %v", err)
	}
	conn := connect(t, c.URL("postgres"))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	var enc, collate string
	if err := conn.QueryRow(ctx, "SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = 'postgres'").Scan(&enc, &collate); err != nil {
		t.Fatal(err)
	}
	if enc != "UTF8" || collate != "C" {
		t.Errorf("encoding %s collate %s, want UTF8 and C", enc, collate)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// attachThenStop starts the running cluster again, as a second `accounts
// dev` or another test package would, which adopts it; then stops it
// through both handles. It returns the port, which a restart reuses.
func attachThenStop(t *testing.T, c *Cluster, opts Options) int {
	t.Helper()
	ctx := t.Context()
	began := time.Now()
	c2, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start on a running cluster: %v", err)
	}
	t.Logf("attach took %v", time.Since(began).Round(time.Millisecond))
	if !c2.Attached() || c2.Initialized() || c2.Port() != c.Port() || c2.SocketDir() != c.SocketDir() {
		t.Errorf("attached cluster: Attached=%v Initialized=%v port %d socket %s, want true, false, %d, %s",
			c2.Attached(), c2.Initialized(), c2.Port(), c2.SocketDir(), c.Port(), c.SocketDir())
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c2.Stop(ctx); err != nil {
		t.Errorf("second Stop of a stopped server: %v", err)
	}
	if err := database.Ping(ctx, c.URL("postgres"), 2*time.Second); err == nil {
		t.Error("Ping of a stopped cluster succeeded")
	}
	if _, err := os.Stat(filepath.Join(opts.DataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: %v", err)
	}
	return c.Port()
}

// restartKeepsData starts the stopped cluster on its remembered port and
// reads back the row checkServes wrote.
func restartKeepsData(t *testing.T, opts Options, port int) *Cluster {
	t.Helper()
	ctx := t.Context()
	began := time.Now()
	c3, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start on a stopped cluster: %v", err)
	}
	stopOnCleanup(t, c3)
	t.Logf("reuse start took %v", time.Since(began).Round(time.Millisecond))
	if c3.Initialized() || c3.Attached() {
		t.Errorf("restart: Initialized=%v Attached=%v, want false, false", c3.Initialized(), c3.Attached())
	}
	if c3.Port() != port {
		t.Errorf("restart chose port %d, want the remembered %d", c3.Port(), port)
	}
	conn := connect(t, c3.URL("postgres"))
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "still here" {
		t.Fatalf("persisted row = %q, %v", v, err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return c3
}

// badSettingSaysWhy checks that a server that cannot start says why, from
// its log, and leaves no postmaster.pid behind.
func badSettingSaysWhy(t *testing.T, opts Options) {
	t.Helper()
	bad := opts
	bad.Settings = map[string]string{"shared_buffers": "lots"}
	_, err := Start(t.Context(), bad)
	if err == nil || !strings.Contains(err.Error(), "shared_buffers") || !strings.Contains(err.Error(), filepath.Join(opts.DataDir, "server.log")) {
		t.Fatalf("Start with a bad setting = %v, want an error quoting the server log", err)
	}
	t.Logf("start failure reads:\n%v", err)
	if _, err := os.Stat(filepath.Join(opts.DataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed start left postmaster.pid behind: %v", err)
	}
}

// startOverStalePidFile writes a postmaster.pid whose PID is a live
// unrelated process and checks that Start starts the server anyway.
func startOverStalePidFile(t *testing.T, opts Options, port int) *Cluster {
	t.Helper()
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	stale := strconv.Itoa(other.Process.Pid) + "\n" + opts.DataDir + "\n1700000000\n" + strconv.Itoa(port) + "\n/nonexistent\n127.0.0.1\n  0  0\nready   \n"
	if err := os.WriteFile(filepath.Join(opts.DataDir, "postmaster.pid"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	c4, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start over a stale postmaster.pid: %v", err)
	}
	stopOnCleanup(t, c4)
	if c4.Attached() {
		t.Errorf("adopted a stale pid file")
	}
	return c4
}

// ensureDatabaseTwice creates a database with an awkward name through a
// URL that names it before it exists, as `accounts dev` does, then finds it.
func ensureDatabaseTwice(t *testing.T, c *Cluster) {
	t.Helper()
	ctx := t.Context()
	name := `Odd "db" name`
	began := time.Now()
	created, err := EnsureDatabase(ctx, c.URL(name), name)
	if err != nil || !created {
		t.Fatalf("first EnsureDatabase = %v, %v; want true, nil", created, err)
	}
	t.Logf("CREATE DATABASE took %v", time.Since(began).Round(time.Millisecond))
	created, err = EnsureDatabase(ctx, c.URL(name), name)
	if err != nil || created {
		t.Fatalf("second EnsureDatabase = %v, %v; want false, nil", created, err)
	}
	conn := connect(t, c.URL(name))
	var current string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil || current != name {
		t.Errorf("current_database() = %q, %v; want %q", current, err, name)
	}
}

// TestConcurrentStart mirrors parallel test packages that all find no server
// and start the same shared data directory at once: exactly one initialises
// and starts it, the others adopt it.
func TestConcurrentStart(t *testing.T) {
	requireBinaries(t)
	dir := filepath.Join(reachableDir(t), "pg")
	const n = 3
	clusters := make([]*Cluster, n)
	errs := make([]error, n)
	done := make(chan int)
	for i := range n {
		go func() {
			clusters[i], errs[i] = Start(t.Context(), Options{DataDir: dir, NoSync: true})
			done <- i
		}()
	}
	for range n {
		<-done
	}
	initialized := 0
	for i, c := range clusters {
		if errs[i] != nil {
			t.Fatalf("Start %d: %v", i, errs[i])
		}
		stopOnCleanup(t, c)
		if c.Initialized() {
			initialized++
		} else if !c.Attached() {
			t.Errorf("Start %d neither initialised nor attached", i)
		}
		if c.Port() != clusters[0].Port() {
			t.Errorf("Start %d uses port %d, Start 0 uses %d", i, c.Port(), clusters[0].Port())
		}
	}
	if initialized != 1 {
		t.Errorf("%d Starts ran initdb, want 1", initialized)
	}
}

func TestBinariesNotFound(t *testing.T) {
	empty := t.TempDir()
	// A client-only install has psql but no server, which must not count.
	clientOnly := t.TempDir()
	if err := os.WriteFile(filepath.Join(clientOnly, "psql"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Options{
		DataDir:    filepath.Join(t.TempDir(), "pg"),
		SearchDirs: []string{empty, clientOnly},
	})
	var nf *BinariesNotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("Start = %v, want a *BinariesNotFoundError", err)
	}
	msg := err.Error()
	for _, want := range []string{empty, clientOnly, "sudo apt-get install postgresql", "brew install postgresql@16", "docker compose up -d"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestRootWithoutServerAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root needs a server account")
	}
	bin := requireBinaries(t)
	_, err := Start(t.Context(), Options{
		DataDir:    filepath.Join(t.TempDir(), "pg"),
		SearchDirs: []string{bin},
		SystemUser: "no-such-pgcluster-user",
	})
	if err == nil || !strings.Contains(err.Error(), `no "no-such-pgcluster-user" system user`) {
		t.Fatalf("Start = %v, want an error about the missing account", err)
	}
}

func TestVersionMismatchNamesVersion(t *testing.T) {
	bin := requireBinaries(t)
	dir := filepath.Join(reachableDir(t), "pg")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "PG_VERSION"), []byte("9.6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Options{DataDir: dir, SearchDirs: []string{bin}})
	var nf *BinariesNotFoundError
	if !errors.As(err, &nf) || nf.WantVersion != "9.6" {
		t.Fatalf("Start = %v, want a *BinariesNotFoundError wanting 9.6", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql-9.6") {
		t.Errorf("message does not say what to install: %v", err)
	}
}

func TestRefusesForeignDirectory(t *testing.T) {
	bin := requireBinaries(t)
	dir := filepath.Join(reachableDir(t), "pg")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Options{DataDir: dir, SearchDirs: []string{bin}})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Start = %v, want a refusal to initdb over a non-empty directory", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("existing file was touched: %v", err)
	}
}

func TestSortNewestFirst(t *testing.T) {
	got := []string{
		"/usr/lib/postgresql/9.6/bin",
		"/usr/lib/postgresql/16/bin",
		"/usr/lib/postgresql/10/bin",
		"/usr/lib/postgresql/15/bin",
	}
	sortNewestFirst(got)
	want := []string{
		"/usr/lib/postgresql/16/bin",
		"/usr/lib/postgresql/15/bin",
		"/usr/lib/postgresql/10/bin",
		"/usr/lib/postgresql/9.6/bin",
	}
	if !slices.Equal(got, want) {
		t.Errorf("sortNewestFirst = %v, want %v", got, want)
	}
}

func TestSocketDirFallsBackForLongPaths(t *testing.T) {
	short := &Cluster{dataDir: "/d/pg", port: 54321, logger: slog.New(slog.DiscardHandler)}
	short.dataDir = t.TempDir()
	if len(short.dataDir) < 60 {
		if err := short.prepareSocketDir(); err != nil {
			t.Fatal(err)
		}
		if short.ownSocketDir || short.socketDir != filepath.Join(short.dataDir, socketDirName) {
			t.Errorf("short path: socket dir %s (temporary %v), want one under the data directory", short.socketDir, short.ownSocketDir)
		}
	}

	long := &Cluster{dataDir: filepath.Join(t.TempDir(), strings.Repeat("x", 100)), port: 54321, logger: slog.New(slog.DiscardHandler)}
	if err := long.prepareSocketDir(); err != nil {
		t.Fatal(err)
	}
	defer long.removeOwnSocketDir()
	if !long.ownSocketDir || !strings.HasPrefix(long.socketDir, os.TempDir()) {
		t.Errorf("long path: socket dir %s (temporary %v), want a temporary one", long.socketDir, long.ownSocketDir)
	}
	if n := len(filepath.Join(long.socketDir, ".s.PGSQL.54321")); n > maxSocketPath {
		t.Errorf("socket path is %d bytes, over %d", n, maxSocketPath)
	}
	if !isOwnTempSocketDir(long.socketDir) {
		t.Errorf("isOwnTempSocketDir(%s) = false", long.socketDir)
	}
}

func TestQuoteConf(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1":  `'127.0.0.1'`,
		`/tmp/it's`:  `'/tmp/it''s'`,
		`C:\data\pg`: `'C:\\data\\pg'`,
		"200":        `'200'`,
	} {
		if got := quoteConf(in); got != want {
			t.Errorf("quoteConf(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestRememberedPort(t *testing.T) {
	path := filepath.Join(t.TempDir(), confName)
	if got := rememberedPort(path); got != 0 {
		t.Errorf("missing file: %d, want 0", got)
	}
	if err := os.WriteFile(path, []byte("# comment\nlisten_addresses = '127.0.0.1'\nport = '54329'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := rememberedPort(path); got != 54329 {
		t.Errorf("rememberedPort = %d, want 54329", got)
	}
}

func TestEnsureDatabaseRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "a\x00b", strings.Repeat("n", 64)} {
		if _, err := EnsureDatabase(t.Context(), "postgres://127.0.0.1:1/postgres", name); err == nil || !strings.Contains(err.Error(), "invalid database name") {
			t.Errorf("EnsureDatabase(%q) = %v, want an invalid name error", name, err)
		}
	}
}
