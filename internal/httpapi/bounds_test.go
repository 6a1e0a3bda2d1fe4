package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"accounts/internal/account"
)

// maxAnswer is the size docs/security.md promises every error answer
// stays under.
const maxAnswer = 16 << 10

// jsonKey is s as a JSON string, every rune below U+0020 escaped.
func jsonKey(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r < 0x20 {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// TestEchoedInputIsBounded (issue 29, findings 3 and 8): whatever a client
// names, a member of the body, the path or the method, the answer stays
// under 16 KB and the request's log line under 2 KB, the name cut and
// its invisible characters escaped.
func TestEchoedInputIsBounded(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	d := testEngineDeps()
	d.Log = slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	d.MaxBodyBytes = 4 << 20
	e, err := newEngine(d)
	if err != nil {
		t.Fatal(err)
	}
	// Twenty-one members of 30 000 control characters each: every one
	// of them would be escaped as six bytes.
	var many strings.Builder
	many.WriteByte('{')
	for i := range 21 {
		if i > 0 {
			many.WriteByte(',')
		}
		many.WriteString(jsonKey(strings.Repeat(string(rune(1+i)), 30_000)) + ":0")
	}
	many.WriteByte('}')
	for _, tc := range []struct {
		name, method, target, body string
		status                     int
	}{
		{"1 MB key of U+2028", "POST", "/api/v1/account/signup", `{"` + strings.Repeat("\u2028", 350_000) + `":0}`, 400},
		{"21 keys of control characters", "POST", "/api/v1/account/login", many.String(), 400},
		{"60 KB path of %01", "GET", "/" + strings.Repeat("%01", 21_000), "", 404},
		{"60 KB method", strings.Repeat("M", 60_000), "/api/v1/account", "", 405},
	} {
		mu.Lock()
		logs.Reset()
		mu.Unlock()
		req := httptest.NewRequest("GET", tc.target, strings.NewReader(tc.body))
		req.Method = tc.method
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		mu.Lock()
		line := logs.String()
		mu.Unlock()
		t.Logf("%s: %d, %d bytes of answer, %d bytes of log", tc.name, rec.Code, rec.Body.Len(), len(line))
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.status)
		}
		if rec.Body.Len() >= maxAnswer {
			t.Errorf("%s: %d bytes of answer, want under %d: %.200s", tc.name, rec.Body.Len(), maxAnswer, rec.Body.String())
		}
		if len(line) >= 2<<10 {
			t.Errorf("%s: %d bytes of log, want under 2048: %.300s", tc.name, len(line), line)
		}
		if strings.Contains(rec.Body.String()+line, "\u2028") || strings.Contains(rec.Body.String()+line, `\u0001\u0001`) {
			t.Errorf("%s: an invisible character is echoed raw", tc.name)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestEchoEscapesAndCuts: what echo makes of a name a client sent.
func TestEchoEscapesAndCuts(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"username":                        "username",
		"caf\u00e9":                       "caf\u00e9",
		"a\u2028b":                        `a\u2028b`,
		"rtl\u202eevil":                   `rtl\u202eevil`,
		"zero\u200bwidth":                 `zero\u200bwidth`,
		"nul\x00":                         `nul\x00`,
		"back\\slash":                     `back\\slash`,
		"bad\xffbyte":                     `bad\xffbyte`,
		strings.Repeat("a", maxEcho+1):    strings.Repeat("a", maxEcho) + "…",
		strings.Repeat("\u2028", maxEcho): strings.Repeat(`\u2028`, maxEcho/6) + "…",
	} {
		if got := echo(in); got != want {
			t.Errorf("echo(%q) = %q, want %q", in, got, want)
		}
	}
}

// goneSessions is a session service whose login waits for its context to
// end and fails as the database does when a query is cancelled.
type goneSessions struct {
	SessionService
	started chan struct{}
}

func (g goneSessions) Login(ctx context.Context, _ account.Credentials) (account.Login, error) {
	close(g.started)
	<-ctx.Done()
	return account.Login{}, fmt.Errorf("database: %w", ctx.Err())
}

// TestClientGoneIs499 (issue 29, finding 8): a client that disconnects
// while its request runs is logged and counted as 499, never as a 500 or
// an internal error.
func TestClientGoneIs499(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	statuses := make(chan int, 1)
	g := goneSessions{started: make(chan struct{})}
	d := Deps{Users: stubUsers{}, Sessions: g, Config: Config{MaxBodyBytes: 1 << 10},
		Log: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil)),
		ObserveHTTP: func(_, _ string, status int, _ time.Duration) {
			statuses <- status
		}}
	h, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/v1/account/login",
		strings.NewReader(`{"username":"alice","password":"alice-password"}`))
	req.Header.Set("Content-Type", "application/json")
	go func() {
		<-g.started
		cancel()
	}()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = resp.Body.Close()
	}
	var status int
	select {
	case status = <-statuses:
	case <-time.After(5 * time.Second):
		t.Fatal("the request was never observed")
	}
	// observe reports the status before it writes the request line: wait
	// for the line.
	var log string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		log = logs.String()
		mu.Unlock()
		if strings.Contains(log, `"msg":"request"`) || time.Now().After(deadline) {
			break
		}
	}
	if status != StatusClientClosed {
		t.Errorf("observed status %d, want %d", status, StatusClientClosed)
	}
	if strings.Contains(log, `"level":"ERROR"`) || !strings.Contains(log, `"status":499`) {
		t.Errorf("log of a request whose client left:\n%s", log)
	}
}

// TestClientRequestIDKeptOnlyWhenPlain (issue 29, finding 8): a client's
// X-Request-ID is the request's id only when it is short and plain;
// otherwise a new id is made and the client's, escaped and cut, is logged
// apart as client_request_id.
func TestClientRequestIDKeptOnlyWhenPlain(t *testing.T) {
	t.Parallel()
	e, logs, _ := observedEngine(t)
	for _, tc := range []struct {
		sent string
		kept bool
	}{
		{"abc-123", true},
		{"0f9e1b7c-6d7e-4a57-a2a4-3d3b8d27d9a1", true},
		{"<script>alert(1)</script>", false},
		{"a\"b", false},
		{strings.Repeat("a", 65), false},
		{"a/b:c=d;e", false},
	} {
		logs.Reset()
		req := httptest.NewRequest(http.MethodGet, "/livez", nil)
		req.Header.Set(RequestIDHeader, tc.sent)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		got := rec.Header().Get(RequestIDHeader)
		lines := logLines(t, logs)
		if len(lines) != 1 {
			t.Fatalf("%q: %d log lines", tc.sent, len(lines))
		}
		switch {
		case tc.kept && got != tc.sent:
			t.Errorf("plain id %q answered with %q", tc.sent, got)
		case !tc.kept && got == tc.sent:
			t.Errorf("id %q was kept", tc.sent)
		case !tc.kept && lines[0]["client_request_id"] != echo(tc.sent):
			t.Errorf("id %q: client_request_id %v, want %q", tc.sent, lines[0]["client_request_id"], echo(tc.sent))
		case tc.kept && lines[0]["client_request_id"] != nil:
			t.Errorf("kept id %q is logged twice", tc.sent)
		}
	}
}

// TestDisplayNameRuleInTheDocument (issue 29, finding 8): the document
// refuses what account.ValidateDisplayName refuses, bidi and zero-width
// characters included, so a display name never reaches the domain with
// them.
func TestDisplayNameRuleInTheDocument(t *testing.T) {
	t.Parallel()
	h := stubEngine(t, stubUsers{})
	for _, name := range []string{"Alice\u202eecilA", "Ali\u200bce", "\ufeffAlice", "Alice\u2028Bob", "Alice\x07"} {
		quoted, _ := json.Marshal(name)
		body := `{"username":"alice","password":"alice-password","display_name":` + string(quoted) + `}`
		a := send(h, "POST", "/api/v1/account/signup", "", "application/json", body)
		if a.status != http.StatusUnprocessableEntity || len(a.fields()) != 1 || a.fields()[0] != "display_name" {
			t.Errorf("display name %q: %d %v, want 422 naming display_name", name, a.status, a.fields())
		}
		if account.ValidateDisplayName(name) == "" {
			t.Errorf("display name %q: the domain accepts what the document refuses", name)
		}
	}
	// Every format character and separator of the Basic Multilingual
	// Plane, which the document's pattern lists one by one.
	for r := rune(0); r <= 0xFFFF; r++ {
		if !unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			continue
		}
		quoted, _ := json.Marshal("a" + string(r) + "b")
		a := send(h, "POST", "/api/v1/account/signup", "", "application/json",
			`{"username":"alice","password":"alice-password","display_name":`+string(quoted)+`}`)
		if a.status != http.StatusUnprocessableEntity {
			t.Errorf("display name with U+%04X: %d, want 422", r, a.status)
		}
	}
	ok := send(h, "POST", "/api/v1/account/signup", "", "application/json", `{"username":"alice","password":"alice-password","display_name":"Zoë 山田"}`)
	if ok.status != http.StatusCreated {
		t.Errorf("a plain display name: %d", ok.status)
	}
}
