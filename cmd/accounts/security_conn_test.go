package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// holdIdle opens n keep-alive connections to addr from the loopback
// address from, sends GET /livez on each and reads the answer, and keeps
// the connections open until the test ends. It returns how many were
// answered 200; a connection the server never answers counts as not.
func holdIdle(t *testing.T, addr, from string, n int) int {
	t.Helper()
	var (
		mu       sync.Mutex
		answered int
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, 10)
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				mu.Lock()
				answered++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return answered
}

// TestIdleConnectionsLeaveRoomForFreshClients (issue 22, finding 2): 2 000
// idle keep-alive connections from 50 addresses, against a serve whose
// file descriptor limit is 256, do not keep fresh clients out: each fresh
// request, a login included, is answered 200 within a few seconds.
func TestIdleConnectionsLeaveRoomForFreshClients(t *testing.T) {
	directOnly(t)
	t.Parallel()
	env := map[string]string{
		"ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB":         "0",
		"ACCOUNTS_HTTP_MAX_CONNECTIONS":             "100",
		"ACCOUNTS_HTTP_MAX_CONNECTIONS_PER_ADDRESS": "16",
	}
	// The shell lowers the soft and the hard limit, so serve cannot raise
	// it back: 256 descriptors, as on a small host.
	p, addr, env := startAttacked(t, 256, env)
	s := &server{t: t, base: "http://" + addr, env: env, clock: &testClock{t: time.Now()}, stderr: p.stderr}
	s.loadDocument()
	s.newClient(false).signUp("fresh1", "fresh-password")

	held := floodIdle(t, addr)
	t.Logf("%d of 2000 flood connections were answered", held)

	freshRequests(t, s, p)
	// The room was made by shedding idle connections, and /metrics says so.
	body := s.getMetrics().body
	for _, series := range []string{"accounts_http_connections_shed_total", "accounts_http_connections_refused_total", "accounts_http_connections_open"} {
		v, _ := metricLine(string(body), series)
		t.Logf("%s %s", series, v)
	}
	if v, ok := metricLine(string(body), "accounts_http_connections_shed_total"); !ok || v == "0" {
		t.Fatalf("accounts_http_connections_shed_total = %q (present %v), want the idle connections closed to make room", v, ok)
	}
	if v, _ := metricLine(string(body), "accounts_http_connections_max"); v != "100" {
		t.Fatalf("accounts_http_connections_max = %q, want 100", v)
	}
}

// waitListening returns the address serve (started by startCmd with JSON
// logs) logs that it listens on, within a minute.
func waitListening(t *testing.T, p *proc) string {
	t.Helper()
	addrRe := regexp.MustCompile(`"msg":"listening".*"addr":"([^"]+)"`)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := addrRe.FindStringSubmatch(p.stderr.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("serve exited: %v\n%s", p.err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen within 60s:\n%s", p.stderr.String())
		}
	}
}

// floodIdle holds 40 idle keep-alive connections from each of 50
// addresses and returns how many were answered.
func floodIdle(t *testing.T, addr string) int {
	var (
		mu    sync.Mutex
		held  int
		flood sync.WaitGroup
	)
	for i := range 50 {
		flood.Go(func() {
			n := holdIdle(t, addr, fmt.Sprintf("127.0.0.%d", 10+i), 40)
			mu.Lock()
			held += n
			mu.Unlock()
		})
	}
	flood.Wait()
	return held
}

// freshRequests sends 20 requests on fresh connections, every fifth a
// login, each of which must be answered 200 within 5 seconds.
func freshRequests(t *testing.T, s *server, p *proc) {
	t.Helper()
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/livez", nil)
		if i%5 == 4 {
			req, _ = http.NewRequestWithContext(ctx, "POST", s.base+"/api/v1/account/login",
				strings.NewReader(`{"username":"fresh1","password":"fresh-password"}`))
			req.Header.Set("Content-Type", "application/json")
		}
		start := time.Now()
		resp, err := fresh.Do(req)
		cancel()
		if err != nil {
			t.Fatalf("fresh request %d (%s %s) with 2000 idle connections held: %v after %s\n%s", i, req.Method, req.URL.Path, err,
				time.Since(start).Round(time.Millisecond), tail(p.stderr.String(), 2048))
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("fresh request %d (%s %s): %d", i, req.Method, req.URL.Path, resp.StatusCode)
		}
	}
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }
