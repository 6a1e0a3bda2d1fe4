package httpapi

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// rawServer serves the API with cfg over a real listener, as the
// connection's read deadlines need one.
func rawServer(t *testing.T, cfg Config) string {
	t.Helper()
	h, err := New(Deps{Users: stubUsers{}, Sessions: stubSessions{}, Log: slog.New(slog.DiscardHandler), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// startBody sends the headers of a sign-up with a body of size bytes and
// the first part bytes of it.
func startBody(t *testing.T, addr string, size, part int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	body := `{"username":"` + strings.Repeat("a", size)
	if _, err := fmt.Fprintf(c, "POST /api/v1/account/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", size, body[:part]); err != nil {
		t.Fatal(err)
	}
	return c
}

// answerOf reads the answer on c within timeout.
func answerOf(t *testing.T, c net.Conn, timeout time.Duration) *http.Response {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer within %s: %v", timeout, err)
	}
	_ = resp.Body.Close()
	return resp
}

// TestBodyBudget: large bodies being read share BodyBudgetBytes; one that
// does not fit waits a second and is answered 503 with Retry-After, while
// small bodies are never held back, and the room comes back when a
// request ends.
func TestBodyBudget(t *testing.T) {
	t.Parallel()
	addr := rawServer(t, Config{MaxBodyBytes: 64 << 10, BodyBudgetBytes: 128 << 10, BodyReadTimeout: 10 * time.Second})
	held := []net.Conn{startBody(t, addr, 64<<10, 100), startBody(t, addr, 64<<10, 100)}
	time.Sleep(200 * time.Millisecond)
	third := startBody(t, addr, 64<<10, 100)
	start := time.Now()
	resp := answerOf(t, third, 5*time.Second)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a body past the budget: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if waited := time.Since(start); waited < budgetWait/2 {
		t.Errorf("a body past the budget was refused after %s, without waiting", waited)
	}
	small := startBody(t, addr, 100, 100)
	if resp := answerOf(t, small, 5*time.Second); resp.StatusCode == http.StatusServiceUnavailable {
		t.Fatalf("a small body was held back by the budget: %d", resp.StatusCode)
	}
	_ = held[0].Close()
	time.Sleep(200 * time.Millisecond)
	again := startBody(t, addr, 64<<10, 64<<10)
	if resp := answerOf(t, again, 5*time.Second); resp.StatusCode == http.StatusServiceUnavailable {
		t.Fatalf("the budget did not come back when a request ended: %d", resp.StatusCode)
	}
}

// TestSlowBodyIsCut: a body that pauses longer than BodyReadTimeout, or
// trickles in below BodyMinRate, is answered 400 bad_request and its
// connection closed, within the time the settings allow.
func TestSlowBodyIsCut(t *testing.T) {
	t.Parallel()
	addr := rawServer(t, Config{MaxBodyBytes: 64 << 10, BodyReadTimeout: 300 * time.Millisecond, BodyMinRate: 1000})
	paused := startBody(t, addr, 100, 10)
	start := time.Now()
	resp := answerOf(t, paused, 5*time.Second)
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Fatalf("a paused body: %d, close %v; want 400 and the connection closed", resp.StatusCode, resp.Close)
	}
	t.Logf("a paused body was cut after %s", time.Since(start).Round(time.Millisecond))

	// 2 000 bytes at 1 000 a second may take 0.3 + 2 s; one byte every
	// 100 ms never pauses past the timeout but would take 200 s.
	trickle := startBody(t, addr, 2000, 10)
	start = time.Now()
	go func() {
		for range 40 {
			time.Sleep(100 * time.Millisecond)
			if _, err := trickle.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	resp = answerOf(t, trickle, 5*time.Second)
	took := time.Since(start)
	if resp.StatusCode != http.StatusBadRequest || took > 3*time.Second {
		t.Fatalf("a trickling body: %d after %s; want 400 within 2.3 s", resp.StatusCode, took)
	}
	t.Logf("a trickling body was cut after %s", took.Round(time.Millisecond))
}
