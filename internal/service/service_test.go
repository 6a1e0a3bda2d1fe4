package service_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"accounts/internal/config"
	"accounts/internal/service"
	"accounts/internal/testdb"
)

// TestOpenRunClose opens the process on port 0, serves /livez through
// Run, stops it by cancelling Run's context and closes it; and a process
// closed without Run gives its port back. Close is what ends the
// background jobs, so it must return once Run has, and twice is harmless.
func TestOpenRunClose(t *testing.T) {
	cfg := config.Default()
	cfg.Database.URL = testdb.URL(t)
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Metrics.Addr = "127.0.0.1:0" // the default port may be taken; no test binds a fixed one
	cfg.Password.Argon2MemoryKB = 64
	cfg.Password.Argon2Time = 1
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := t.Context()

	p, err := service.Open(ctx, service.Options{Config: &cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	addr := p.Addr().String()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("Close without Run kept the port: %v", err)
	}
	_ = ln.Close() // only its availability was the question

	p, err = service.Open(ctx, service.Options{Config: &cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(rctx) }()
	resp, err := http.Get("http://" + p.Addr().String() + "/livez")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /livez: %v %v", resp, err)
	}
	_ = resp.Body.Close() // the status was the answer
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	done := make(chan struct{})
	go func() { _ = p.Close(); _ = p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: a background job did not stop")
	}
}

// TestBindFailureSaysWhatToDo: when the port of metrics.addr or http.addr
// is taken (a second serve, a `make run` beside the tests), Open's error
// names the key, the variable that sets it, the process that holds the
// port, and what to do.
func TestBindFailureSaysWhatToDo(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close() }() // only its port mattered
	cfg := config.Default()
	cfg.Database.URL = testdb.URL(t)
	cfg.Password.Argon2MemoryKB = 64
	cfg.Password.Argon2Time = 1
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		key, env string
		set      func(addr string)
	}{
		{"metrics.addr", "ACCOUNTS_METRICS_ADDR", func(a string) { cfg.HTTP.Addr, cfg.Metrics.Addr = "127.0.0.1:0", a }},
		{"http.addr", "ACCOUNTS_HTTP_ADDR", func(a string) { cfg.HTTP.Addr, cfg.Metrics.Addr = a, "127.0.0.1:0" }},
	} {
		c.set(held.Addr().String())
		p, err := service.Open(t.Context(), service.Options{Config: &cfg, Log: log})
		if err == nil {
			_ = p.Close()
			t.Fatalf("Open listened on %s, which is held", held.Addr())
		}
		msg := err.Error()
		holder := "pid " + strconv.Itoa(os.Getpid())
		for _, want := range []string{held.Addr().String(), c.key, c.env, "address already in use", holder, "free address"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s held: the error does not say %q:\n%s", c.key, want, msg)
			}
		}
	}
}
