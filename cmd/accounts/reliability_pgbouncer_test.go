package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/peterldowns/pgtestdb"

	"accounts/ent"
	entuser "accounts/ent/user"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/syncbuf"
	"accounts/internal/testdb"
)

// These tests run the service through PgBouncer in transaction pooling
// mode, which is how many deployments put a pooler between many replicas
// and PostgreSQL. PgBouncer hands each transaction (and each statement
// outside one) to whichever server connection is free, so a client must not
// rely on session state between them: no named prepared statements, which
// pgx caches by default. database.exec_mode=simple_protocol (or exec) is
// the setting this needs.
//
// The harness starts one PgBouncer per run of the package (Debian package
// pgbouncer; .ci/run installs it), in front of the test server, listening
// on a free loopback port. Without pgbouncer the tests fail when CI is set
// and are skipped otherwise.

// viaPgBouncerEnv, when set, makes startServer connect every server of the
// run through PgBouncer: TestThroughPgBouncer runs the package's own test
// binary again with it, so every end-to-end test, present and future, runs
// through PgBouncer without a list to keep up to date.
const viaPgBouncerEnv = "ACCOUNTS_TEST_VIA_PGBOUNCER"

// TestThroughPgBouncer runs the whole end-to-end suite (every test of the
// package that starts its server with startServer) a second time, in a
// child process of this test binary, with the service connected to its
// database through PgBouncer in transaction pooling mode and
// database.exec_mode=simple_protocol. The tests' own SQL (setting up and
// checking rows behind the service's back) goes to the server directly.
// Tests that manage databases or processes of their own call directOnly
// and are skipped there.
func TestThroughPgBouncer(t *testing.T) {
	if os.Getenv(viaPgBouncerEnv) != "" {
		t.Skip("this is the run through PgBouncer")
	}
	t.Parallel()
	requirePgBouncer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	skip := slices.Sorted(maps.Keys(notThroughPgBouncer))
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.count=1", "-test.v", "-test.timeout=8m",
		"-test.skip=^("+strings.Join(skip, "|")+")$")
	cmd.Env = append(os.Environ(), viaPgBouncerEnv+"=1")
	out, err := cmd.CombinedOutput()
	suiteTexts.add(t.Name()+" child run", func() string { return string(out) })
	count := map[string]int{}
	for line := range strings.Lines(string(out)) {
		for _, st := range []string{"PASS", "FAIL", "SKIP"} {
			if strings.HasPrefix(strings.TrimLeft(line, " "), "--- "+st+": ") {
				count[st]++
			}
		}
	}
	if err != nil || count["FAIL"] > 0 || count["PASS"] == 0 {
		t.Fatalf("the suite through PgBouncer failed (%v): %d passed, %d failed, %d skipped\n%s", err, count["PASS"], count["FAIL"], count["SKIP"], out)
	}
	t.Logf("the suite through PgBouncer (transaction pooling, exec_mode simple_protocol): %d tests and subtests passed, %d skipped (directOnly)", count["PASS"], count["SKIP"])
}

// notThroughPgBouncer lists the end-to-end tests that check something
// PgBouncer changes by design, with the reason; the rest of the suite must
// pass through it unchanged.
var notThroughPgBouncer = map[string]string{
	"TestGracefulShutdown": "counts the server backends left after run returns; PgBouncer keeps them pooled",
}

// directOnly skips t in the run through PgBouncer: it starts databases,
// clusters or processes of its own, which PgBouncer would not be in front
// of anyway.
func directOnly(t *testing.T) {
	t.Helper()
	if os.Getenv(viaPgBouncerEnv) != "" {
		t.Skip("manages its own database or processes; not repeated through PgBouncer")
	}
}

// TestPgBouncerExecModes runs the queries of a sign-up, a login and a
// listing through Ent on the service's driver, concurrently over a pool of
// several connections, through PgBouncer in each database.exec_mode.
// simple_protocol and exec must not fail once; the modes that prepare
// statements are logged, as evidence for the setting docs/operations.md
// recommends (PgBouncer 1.21 and later can track prepared statements with
// max_prepared_statements; Debian 12 ships 1.18).
func TestPgBouncerExecModes(t *testing.T) {
	directOnly(t)
	t.Parallel()
	b := requirePgBouncer(t)
	direct, _ := secretDatabaseURL(t, testdb.URL(t))
	via := b.url(direct)
	for _, mode := range []string{"simple_protocol", "exec", "cache_statement", "cache_describe", "describe_exec"} {
		cfg := config.Default().Database
		cfg.URL = via
		cfg.ExecMode = mode
		cfg.PoolSize, cfg.MaxOverflow = 2, 4
		cfg.PoolTimeout = 5 * time.Second
		db, err := database.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var failures atomic.Int64
		var first atomic.Value
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for i := range 20 {
					name := fmt.Sprintf("bouncer%d_%02d_%s", w, i, strings.ReplaceAll(mode, "_", ""))
					if err := bouncerSequence(t.Context(), db.Ent, name, i); err != nil {
						failures.Add(1)
						first.CompareAndSwap(nil, err.Error())
					}
				}
			})
		}
		wg.Wait()
		db.Close()
		if mode == "simple_protocol" || mode == "exec" {
			if failures.Load() != 0 {
				t.Errorf("exec_mode %s through PgBouncer: %d of 120 sequences failed, first: %v", mode, failures.Load(), first.Load())
			}
		}
		t.Logf("exec_mode %-15s through PgBouncer (transaction pooling): %3d of 120 sequences failed; first error: %v", mode, failures.Load(), first.Load())
	}
}

// bouncerSequence is one request's worth of statements: create a user,
// count it, read a page at offset.
func bouncerSequence(ctx context.Context, client *ent.Client, name string, offset int) error {
	if _, err := client.User.Create().SetUsername(name).SetPasswordHash([]byte{1, 2, 3}).Save(ctx); err != nil {
		return err
	}
	if _, err := client.User.Query().Where(entuser.UsernameEqualFold(name), entuser.IsActive(true)).Count(ctx); err != nil {
		return err
	}
	_, err := client.User.Query().Order(ent.Asc(entuser.FieldUsername)).Limit(5).Offset(offset).All(ctx)
	return err
}

// pgBouncer is the PgBouncer the harness started.
type pgBouncer struct {
	addr string
	cmd  *exec.Cmd
	log  *syncbuf.Buffer
	dir  string
	done chan struct{}
}

var (
	bouncerOnce sync.Once
	bouncer     *pgBouncer
	bouncerErr  error
)

// bouncerFor returns the PgBouncer t's server must go through, or nil.
func bouncerFor(t *testing.T) *pgBouncer {
	if os.Getenv(viaPgBouncerEnv) == "" {
		return nil
	}
	return requirePgBouncer(t)
}

// pgbouncerPath finds the pgbouncer program; Debian installs it in
// /usr/sbin, which is not on every user's PATH.
func pgbouncerPath() string {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// requirePgBouncer returns the run's PgBouncer, starting it the first time.
func requirePgBouncer(t *testing.T) *pgBouncer {
	t.Helper()
	bin := pgbouncerPath()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("pgbouncer is not installed (CI is set, so this is an error): apt-get install pgbouncer")
		}
		t.Skip("pgbouncer is not installed: apt-get install pgbouncer")
	}
	server := testdb.ServerURL(t)
	bouncerOnce.Do(func() { bouncer, bouncerErr = startPgBouncer(bin, server) })
	if bouncerErr != nil {
		t.Fatalf("start pgbouncer: %v", bouncerErr)
	}
	return bouncer
}

// startPgBouncer writes an ini and a userlist into a fresh directory and
// runs pgbouncer on a free loopback port, in front of the server at
// serverURL, until stopPgBouncer.
func startPgBouncer(bin, serverURL string) (*pgBouncer, error) {
	su, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	host, port := su.Hostname(), su.Port()
	if h := su.Query().Get("host"); h != "" {
		host = h
	}
	if port == "" {
		port = "5432"
	}
	serverUser := su.User.Username()
	serverPassword, _ := su.User.Password()

	dir, err := os.MkdirTemp("", "accounts-pgbouncer-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	listenPort := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	// trust: the clients are the tests' own servers on loopback, and the
	// password in their URL is a test secret PgBouncer must not need. It
	// logs in to the server with the userlist's password (trust servers
	// ignore it).
	// The test databases belong to pgtestdb's role.
	userlist := quote(serverUser) + " " + quote(serverPassword) + "\n" +
		quote(pgtestdb.DefaultRoleUsername) + " " + quote(pgtestdb.DefaultRolePassword) + "\n"
	ini := pgBouncerINI(host, port, listenPort, filepath.Join(dir, "userlist.txt"))
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(userlist), 0o644); err != nil {
		return nil, err
	}
	iniPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o644); err != nil {
		return nil, err
	}
	args := []string{iniPath}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root; -u switches to the server
		// account, which must still read the files.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user for pgbouncer -u: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, iniPath, filepath.Join(dir, "userlist.txt")} {
			_ = os.Chown(p, uid, gid)
		}
		args = append([]string{"-u", "postgres"}, args...)
	}
	b := &pgBouncer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(listenPort)), log: &syncbuf.Buffer{}, dir: dir, done: make(chan struct{})}
	b.cmd = exec.Command(bin, args...)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	b.cmd.Dir = dir
	suiteTexts.add("pgbouncer log", b.log.String)
	if err := b.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	if err := b.waitAnswering(serverURL); err != nil {
		return nil, err
	}
	return b, nil
}

// pgBouncerINI is the configuration of the tests' PgBouncer: transaction
// pooling in front of the server at host:port, listening on listenPort.
func pgBouncerINI(host, port string, listenPort int, authFile string) string {
	return strings.Join([]string{
		"[databases]",
		// Every database name maps to the same name on the test server, so
		// each test's own database works without listing it.
		fmt.Sprintf("* = host=%s port=%s", host, port),
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(listenPort),
		"unix_socket_dir =",
		"auth_type = trust",
		"auth_file = " + authFile,
		"pool_mode = transaction",
		"max_client_conn = 1000",
		// At most a few server connections per test database: the
		// service's pool of up to nine shares them, which is the point.
		"default_pool_size = 3",
		"reserve_pool_size = 0",
		// A query waits in PgBouncer for a server connection for at most
		// query_wait_timeout (default 120 s), and the service's pool
		// cannot see that wait: it has its connection to PgBouncer. So
		// this is what bounds a request during an outage, and it must not
		// exceed database.pool_timeout (2 s in the outage tests).
		"query_wait_timeout = 2",
		// After a failed server login PgBouncer answers every client
		// with an error for server_login_retry (default 15 s); at 0 the
		// service recovers as soon as the database accepts connections.
		"server_login_retry = 0",
		"ignore_startup_parameters = extra_float_digits",
		"log_connections = 0",
		"log_disconnections = 0",
		"",
	}, "\n")
}

// waitAnswering waits up to 15 seconds for PgBouncer to answer a query to
// the server at serverURL, and stops it when it does not.
func (b *pgBouncer) waitAnswering(serverURL string) error {
	probe := b.url(serverURL)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, probe)
		if err == nil {
			_, err = conn.Exec(ctx, "SELECT 1")
			_ = conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-b.done:
			return fmt.Errorf("pgbouncer exited: %s", b.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.stop()
			return fmt.Errorf("pgbouncer on %s does not answer: %v\n%s", b.addr, err, b.log.String())
		}
	}
}

// url returns dbURL with PgBouncer's address in place of the server's.
func (b *pgBouncer) url(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(err)
	}
	u.Host = b.addr
	q := u.Query()
	q.Del("host")
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String()
}

func (b *pgBouncer) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	_ = os.RemoveAll(b.dir)
}

func stopPgBouncer() {
	if bouncer != nil {
		bouncer.stop()
	}
}

// startServer is startServer of the harness with the service connected
// through PgBouncer; the test's own queries (server.dbURL) go direct.
func (b *pgBouncer) startServer(t *testing.T, dbURL string, env map[string]string) *server {
	t.Helper()
	direct, dbPassword := secretDatabaseURL(t, dbURL)
	merged := map[string]string{"ACCOUNTS_DATABASE_EXEC_MODE": "simple_protocol"}
	maps.Copy(merged, env)
	s := launchServer(t, b.url(direct), merged)
	s.dbURL = direct
	if dbPassword != "" {
		s.addSecret(dbPassword)
	}
	s.waitListening(30 * time.Second)
	s.loadDocument()
	return s
}
