package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"accounts/internal/account"
)

// TestBehindClosesTheAPIOnly: while Behind returns an error, every /api/
// route answers it (503 with Retry-After), before authentication and
// without a query; the probes, the document and /docs answer as ever.
func TestBehindClosesTheAPIOnly(t *testing.T) {
	t.Parallel()
	d := testEngineDeps()
	var behind error = &account.Error{Code: account.CodeServiceUnavailable, Message: "not migrated yet", RetryAfter: 5 * time.Second}
	d.Behind = func() error { return behind }
	e, err := newEngine(d)
	if err != nil {
		t.Fatal(err)
	}
	status := func(method, path string) (int, string) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w.Code, w.Header().Get("Retry-After")
	}
	for _, path := range []string{"/api/v1/account", "/api/v1/users", "/api/v1/audit"} {
		if code, ra := status(http.MethodGet, path); code != http.StatusServiceUnavailable || ra != "5" {
			t.Errorf("GET %s while behind: %d, Retry-After %q; want 503, 5", path, code, ra)
		}
	}
	for _, path := range []string{"/livez", "/openapi.json", "/docs"} {
		if code, _ := status(http.MethodGet, path); code != http.StatusOK {
			t.Errorf("GET %s while behind: %d, want 200", path, code)
		}
	}
	behind = nil
	if code, _ := status(http.MethodGet, "/api/v1/account"); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/account once migrated, without a session: %d, want 401", code)
	}
}
