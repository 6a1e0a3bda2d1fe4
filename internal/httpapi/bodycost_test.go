package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"accounts/internal/account"
)

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// manyKeys is a JSON object of n distinct short keys.
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + strconv.FormatInt(int64(i), 36) + `":0`)
	}
	b.WriteByte('}')
	return b.String()
}

// deepObjects is n objects, each the only value of the one before.
func deepObjects(n int) string {
	return strings.Repeat(`{"":`, n) + "0" + strings.Repeat("}", n)
}

// TestHostileBodyCostIsBounded: a body of the largest size the service
// takes, built to be expensive to refuse (issue 21: 100 000 unknown keys
// cost 19–29 s of CPU and a 5 MB answer; 150 000 nested objects ~0.25 s),
// is refused with little CPU and a small answer, before any session or
// domain work, to the two endpoints anyone may call. CPU is the process's
// (getrusage), not the wall clock, and the bound has a wide margin over
// what the refusal costs.
func TestHostileBodyCostIsBounded(t *testing.T) {
	h, err := New(Deps{Users: stubUsers{}, Sessions: stubSessions{}, Log: slog.New(slog.DiscardHandler),
		Config: Config{MaxBodyBytes: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	const cpuBound, bodyBound = 50 * time.Millisecond, 16 << 10
	for _, tc := range []struct{ name, body string }{
		{"100000 keys", manyKeys(100_000)},
		{"150000 deep", deepObjects(150_000)},
	} {
		if len(tc.body) > 1<<20 {
			t.Fatalf("%s: the body is %d bytes, over the limit it is meant to test", tc.name, len(tc.body))
		}
		for _, path := range []string{"/api/v1/account/signup", "/api/v1/account/login"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			before := cpuTime(t)
			h.ServeHTTP(rec, req)
			spent := cpuTime(t) - before
			t.Logf("%s to %s: %d, %v of CPU, %d bytes of answer", tc.name, path, rec.Code, spent, rec.Body.Len())
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s to %s: status %d, want 400", tc.name, path, rec.Code)
			}
			if spent > cpuBound {
				t.Errorf("%s to %s: %v of CPU to refuse, want < %v", tc.name, path, spent, cpuBound)
			}
			if rec.Body.Len() > bodyBound {
				t.Errorf("%s to %s: %d bytes of answer, want < %d", tc.name, path, rec.Body.Len(), bodyBound)
			}
		}
	}
}

// TestErrorListIsCapped: a body with many unknown fields names the first
// of them and then says how many more there are, so that the answer stays
// small whatever the body.
func TestErrorListIsCapped(t *testing.T) {
	t.Parallel()
	h := stubEngine(t, stubUsers{})
	a := send(h, "POST", "/api/v1/account/signup", "", "application/json", manyKeys(60))
	if a.status != http.StatusBadRequest || a.p.Code != account.CodeInvalidJSON {
		t.Fatalf("60 unknown keys: %d %s, want 400 invalid_json", a.status, a.p.Code)
	}
	if len(a.p.Errors) != maxFieldErrors+1 {
		t.Fatalf("60 unknown keys: %d errors, want %d and one that counts the rest: %v", len(a.p.Errors), maxFieldErrors+1, a.p.Errors)
	}
	last := a.p.Errors[maxFieldErrors]
	if want := "and 40 more"; last.Message != want || last.Field != "" {
		t.Errorf("the last error is %+v, want an empty field and %q", last, want)
	}
}
