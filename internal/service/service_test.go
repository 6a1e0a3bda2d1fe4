package service_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	// The default metrics.addr is a fixed port another process may hold.
	cfg.Metrics.Addr = "127.0.0.1:0"
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
