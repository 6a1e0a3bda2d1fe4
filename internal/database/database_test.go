package database_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/syncbuf"
	"accounts/internal/testdb"
)

func settings(t testing.TB, url string) config.Database {
	t.Helper()
	d := config.Default().Database
	d.URL = url
	return d
}

func open(t testing.TB, d config.Database, log *slog.Logger) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), d, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestPoolMapping checks the documented translation of the SQLAlchemy-style
// settings into pgxpool's.
func TestPoolMapping(t *testing.T) {
	t.Parallel()
	d := settings(t, "postgres://u:p@localhost:5432/app")
	d.PoolSize, d.MaxOverflow = 3, 4
	d.PoolRecycle = 90 * time.Second
	pc, err := database.PoolConfig(d, discard)
	if err != nil {
		t.Fatal(err)
	}
	if pc.MaxConns != 7 || pc.MinConns != 3 || pc.MaxConnLifetime != 90*time.Second || pc.MaxConnIdleTime != database.OverflowIdle {
		t.Fatalf("mapping: max=%d min=%d lifetime=%s idle=%s", pc.MaxConns, pc.MinConns, pc.MaxConnLifetime, pc.MaxConnIdleTime)
	}
	if pc.HealthCheckPeriod >= database.OverflowIdle {
		t.Fatalf("health check every %s cannot release overflow after %s idle", pc.HealthCheckPeriod, database.OverflowIdle)
	}
}

// TestPoolKeepsPoolSizeWarm checks that pool_size connections are opened
// without any query asking for them.
func TestPoolKeepsPoolSizeWarm(t *testing.T) {
	t.Parallel()
	d := settings(t, testdb.URL(t))
	d.PoolSize, d.MaxOverflow = 2, 1
	db := open(t, d, discard)
	deadline := time.Now().Add(5 * time.Second)
	for db.Stat().TotalConns() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("pool holds %d connections, want pool_size=2 warm", db.Stat().TotalConns())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPoolExhaustion checks that a statement waiting for a connection
// gives up after pool_timeout instead of hanging, and that the log says
// why (the error itself is the acquire's context.DeadlineExceeded).
func TestPoolExhaustion(t *testing.T) {
	t.Parallel()
	d := settings(t, testdb.URL(t))
	d.PoolSize, d.MaxOverflow = 1, 1
	d.PoolTimeout = 300 * time.Millisecond
	var buf syncbuf.Buffer
	db := open(t, d, slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx := context.Background()
	for range 2 {
		c, err := db.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	start := time.Now()
	_, err := db.SQL.ExecContext(ctx, "SELECT 1")
	waited := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the acquire's deadline", err)
	}
	if waited < d.PoolTimeout || waited > d.PoolTimeout+time.Second {
		t.Fatalf("gave up after %s, want pool_timeout %s plus a small margin", waited, d.PoolTimeout)
	}
	out := buf.String()
	if !strings.Contains(out, `"msg":"database connection pool exhausted"`) || !strings.Contains(out, `"pool_timeout":300000000`) ||
		!strings.Contains(out, `"max_conns":2`) {
		t.Fatalf("the log does not say the pool was exhausted, for how long and at what size:\n%s", out)
	}
}

// TestPoolTimeoutLeavesCallerDeadlines checks that a caller whose own
// context ends first gets its own error, and nothing is logged as pool
// exhaustion.
func TestPoolTimeoutLeavesCallerDeadlines(t *testing.T) {
	t.Parallel()
	d := settings(t, testdb.URL(t))
	d.PoolSize, d.MaxOverflow = 1, 0
	d.PoolTimeout = 5 * time.Second
	var buf syncbuf.Buffer
	db := open(t, d, slog.New(slog.NewJSONHandler(&buf, nil)))
	c, err := db.SQL.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = db.SQL.ExecContext(ctx, "SELECT 1")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("after %s: %v, want the caller's deadline after 100ms", time.Since(start), err)
	}
	if strings.Contains(buf.String(), "pool exhausted") {
		t.Fatalf("the caller's own deadline was logged as pool exhaustion:\n%s", buf.String())
	}
}

// TestEchoLogsStatementsNotArguments checks that SQL echo never writes the
// arguments, which carry password and token hashes.
func TestEchoLogsStatementsNotArguments(t *testing.T) {
	t.Parallel()
	var buf syncbuf.Buffer
	d := settings(t, testdb.URL(t))
	d.Echo, d.EchoPool = true, true
	db := open(t, d, slog.New(slog.NewJSONHandler(&buf, nil)))
	var got string
	if err := db.SQL.QueryRowContext(context.Background(), "SELECT $1::text", "hunter2-secret").Scan(&got); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `SELECT $1::text`) || !strings.Contains(out, `"duration"`) {
		t.Fatalf("echo did not log the statement with its duration:\n%s", out)
	}
	if !strings.Contains(out, `"pool acquire"`) || !strings.Contains(out, `"pool connect"`) {
		t.Fatalf("echo_pool did not log pool events:\n%s", out)
	}
	if strings.Contains(out, "hunter2-secret") {
		t.Fatalf("echo logged an argument:\n%s", out)
	}
}

// TestWaitGivesUpWithReason points wait-db at a port where nothing listens.
func TestWaitGivesUpWithReason(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	var buf syncbuf.Buffer
	start := time.Now()
	err := database.Wait(context.Background(), "postgres://postgres:topsecret@"+addr+"/app?sslmode=disable",
		100*time.Millisecond, 700*time.Millisecond, slog.New(slog.NewTextHandler(&buf, nil)))
	if err == nil {
		t.Fatal("Wait succeeded with nothing listening")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Wait took %s past a 700ms deadline", took)
	}
	msg := err.Error()
	for _, want := range []string{"did not answer SELECT 1 within 700ms", addr, "last error"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg+buf.String(), "topsecret") {
		t.Errorf("password leaked: %s\n%s", msg, buf.String())
	}
	if n := strings.Count(buf.String(), "database not ready"); n < 2 {
		t.Errorf("logged %d failed tries, want one line per try:\n%s", n, buf.String())
	}
}

// TestWaitSucceedsWhenDatabaseComesUp opens the port only after a delay,
// then forwards it to the real test server.
func TestWaitSucceedsWhenDatabaseComesUp(t *testing.T) {
	t.Parallel()
	server, err := url.Parse(testdb.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	go func() {
		time.Sleep(600 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen: %v", err)
			return
		}
		t.Cleanup(func() { _ = ln.Close() })
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go forward(c, server.Host)
		}
	}()
	late := *server
	late.Host = addr
	var buf syncbuf.Buffer
	start := time.Now()
	if err := database.Wait(context.Background(), late.String(), 100*time.Millisecond, 10*time.Second, slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("Wait returned after %s, before the database came up", took)
	}
	if !strings.Contains(buf.String(), "database not ready") || !strings.Contains(buf.String(), "database is up") {
		t.Fatalf("log lacks the failed tries and the success:\n%s", buf.String())
	}
}

func forward(c net.Conn, to string) {
	defer func() { _ = c.Close() }()
	up, err := net.Dial("tcp", to)
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	go func() { _, _ = io.Copy(up, c) }()
	_, _ = io.Copy(c, up)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
