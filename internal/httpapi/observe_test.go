package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// observedRequest is one call of Deps.ObserveHTTP.
type observedRequest struct {
	method, route string
	status        int
	latency       time.Duration
}

// observedEngine is the real engine, logging JSON into a buffer and
// recording ObserveHTTP calls, with one extra route that panics so that
// the 500 path can be seen.
func observedEngine(t *testing.T) (*gin.Engine, *bytes.Buffer, func() []observedRequest) {
	t.Helper()
	var logs bytes.Buffer
	var mu sync.Mutex
	var seen []observedRequest
	d := testEngineDeps()
	d.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d.ObserveHTTP = func(method, route string, status int, latency time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, observedRequest{method, route, status, latency})
	}
	e, err := newEngine(d)
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/test/panic/:n", func(*gin.Context) { panic("handler exploded") })
	e.GET("/test/unavailable", func(c *gin.Context) {
		writeProblem(c, &account.Error{Code: account.CodeServiceUnavailable, Message: "not now", RetryAfter: time.Second})
	})
	return e, &logs, func() []observedRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]observedRequest(nil), seen...)
	}
}

// logLines decodes every JSON line of logs.
func logLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(logs.Bytes()))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		lines = append(lines, v)
	}
	return lines
}

// TestRequestLogLine: every request, matched or not, failed or not, gives
// exactly one "request" line with method, route template, path (without
// the query), status, latency, request id and client address, at info
// below 500 and for 503 (a "not now" whose cause is logged apart, once
// per change: a probe or an outage must not write an error a request) and
// error for the other 5xx; ObserveHTTP sees the same method, route
// and status; and the log line of an internal error carries the id too.
func TestRequestLogLine(t *testing.T) {
	t.Parallel()
	e, logs, observed := observedEngine(t)
	cases := []logLineCase{
		{"/livez", "req-livez", "/livez", http.StatusOK, "INFO"},
		{"/nowhere?access_token=secret-in-query", "req-unmatched", "", http.StatusNotFound, "INFO"},
		{"/test/panic/7", "req-panic", "/test/panic/:n", http.StatusInternalServerError, "ERROR"},
		{"/test/unavailable", "req-unavailable", "/test/unavailable", http.StatusServiceUnavailable, "INFO"},
	}
	for _, c := range cases {
		sendLogLineCase(t, e, c)
	}
	if strings.Contains(logs.String(), "secret-in-query") {
		t.Errorf("the log holds the query string:\n%s", logs)
	}

	lines := logLines(t, logs)
	for _, c := range cases {
		checkRequestLine(t, logs, lines, c)
	}
	checkPanicLine(t, lines)
	checkObserved(t, observed(), cases)
}

// logLineCase is one request of TestRequestLogLine: the path it asks for,
// the request id it sends, and the route, status and level it must log.
type logLineCase struct {
	path, id, route string
	status          int
	level           string
}

// sendLogLineCase sends c's GET with its request id from a fixed client
// address, and checks the status and that the id comes back.
func sendLogLineCase(t *testing.T, e *gin.Engine, c logLineCase) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, c.path, nil)
	req.RemoteAddr = "192.0.2.7:40000"
	req.Header.Set(RequestIDHeader, c.id)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != c.status {
		t.Fatalf("GET %s: status %d, want %d", c.path, rec.Code, c.status)
	}
	if got := rec.Header().Get(RequestIDHeader); got != c.id {
		t.Errorf("GET %s: X-Request-ID %q in the response, want %q", c.path, got, c.id)
	}
}

// checkRequestLine finds the one "request" line of c's request id among
// lines and checks its level, method, route, path (without the query),
// status, client address and latency.
func checkRequestLine(t *testing.T, logs *bytes.Buffer, lines []map[string]any, c logLineCase) {
	t.Helper()
	var found []map[string]any
	for _, l := range lines {
		if l["msg"] == "request" && l["request_id"] == c.id {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Errorf("%s: %d request lines, want 1:\n%s", c.path, len(found), logs)
		return
	}
	l := found[0]
	path, _, _ := strings.Cut(c.path, "?")
	want := map[string]any{
		"level":  c.level,
		"method": "GET",
		"route":  c.route,
		"path":   path,
		"status": float64(c.status),
		"client": "192.0.2.7",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s: %s = %v, want %v (line %v)", c.path, k, l[k], v, l)
		}
	}
	if ms, ok := l["latency_ms"].(float64); !ok || ms < 0 {
		t.Errorf("%s: latency_ms = %v, want a number of milliseconds", c.path, l["latency_ms"])
	}
}

// checkPanicLine checks that the last internal-error line carries the
// panicking request's id and the same route, path and method vocabulary
// as the request line.
func checkPanicLine(t *testing.T, lines []map[string]any) {
	t.Helper()
	var panicLine map[string]any
	for _, l := range lines {
		if l["msg"] == "panic in handler" {
			panicLine = l
		}
	}
	if panicLine == nil || panicLine["request_id"] != "req-panic" {
		t.Errorf("the internal-error line does not carry the request id: %v", panicLine)
	}
	// One vocabulary on every line: route is the template, path the path.
	if panicLine["route"] != "/test/panic/:n" || panicLine["path"] != "/test/panic/7" || panicLine["method"] != "GET" {
		t.Errorf("the internal-error line has route %v and path %v, want /test/panic/:n and /test/panic/7", panicLine["route"], panicLine["path"])
	}
}

// checkObserved checks that ObserveHTTP was called once per case, in
// order, with GET, the case's route and status, and a latency.
func checkObserved(t *testing.T, got []observedRequest, cases []logLineCase) {
	t.Helper()
	if len(got) != len(cases) {
		t.Fatalf("ObserveHTTP called %d times, want %d: %v", len(got), len(cases), got)
	}
	for i, c := range cases {
		if got[i].method != "GET" || got[i].route != c.route || got[i].status != c.status || got[i].latency <= 0 {
			t.Errorf("ObserveHTTP call %d = %+v, want GET %q %d with a latency", i, got[i], c.route, c.status)
		}
	}
}

// TestRequestIDTakenOrMade: a plain X-Request-ID (letters, digits, '-',
// '_' and '.', at most 64 bytes) is kept; anything else is replaced by a
// made-up id, which is itself plain and differs from one request to the
// next.
func TestRequestIDTakenOrMade(t *testing.T) {
	t.Parallel()
	e, _, _ := observedEngine(t)
	send := func(id string, set bool) string {
		req := httptest.NewRequest(http.MethodGet, "/livez", nil)
		if set {
			req.Header.Set(RequestIDHeader, id)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Header().Get(RequestIDHeader)
	}
	long := strings.Repeat("a", maxRequestIDLen)
	for _, id := range []string{"abc-123", "0f9e1b7c-6d7e-4a57-a2a4-3d3b8d27d9a1", long, "01J9Z_x.y"} {
		if got := send(id, true); got != id {
			t.Errorf("plain id %q answered with %q", id, got)
		}
	}
	made := map[string]bool{}
	for _, id := range []string{long + "a", "has space", "tab\there", "caf\u00e9", "nul\x00", "\x7f"} {
		got := send(id, true)
		if got == id || !plainRequestID(got) {
			t.Errorf("id %q answered with %q, want a new plain id", id, got)
		}
		made[got] = true
	}
	for range 2 {
		got := send("", false)
		if !plainRequestID(got) {
			t.Errorf("no id sent: answered with %q, want a new plain id", got)
		}
		made[got] = true
	}
	if len(made) != 8 {
		t.Errorf("made-up ids repeat: %v", made)
	}
}
