package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHeadOnEveryGetRoute checks that every GET route answers HEAD as GET
// does, with the same checks: load balancers probe with HEAD.
func TestHeadOnEveryGetRoute(t *testing.T) {
	t.Parallel()
	e, err := newEngine(testEngineDeps())
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method == http.MethodHead {
			heads[r.Path] = true
		}
	}
	for _, r := range e.Routes() {
		if r.Method == http.MethodGet && !heads[r.Path] {
			t.Errorf("GET %s has no HEAD", r.Path)
		}
	}
	for path, want := range map[string]int{"/livez": 200, "/readyz": 200, "/openapi.json": 200, "/api/v1/account": 401, "/api/v1/users": 401} {
		if got := serve(t, e, http.MethodHead, path, nil).Code; got != want {
			t.Errorf("HEAD %s = %d, want %d", path, got, want)
		}
	}
}

// TestCORS checks the opt-in CORS: off by default (a preflight is a 405,
// no Access-Control-* header anywhere); with http.cors_origins a listed
// origin gets its preflight answered as the Fetch standard expects and
// the Access-Control-Allow-Origin of its requests, an unlisted one gets
// nothing.
func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := map[string]string{
		"Origin":                         "https://app.example",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type, x-request-id",
	}
	off, err := newEngine(testEngineDeps())
	if err != nil {
		t.Fatal(err)
	}
	r := serve(t, off, http.MethodOptions, "/api/v1/account/login", preflight)
	if r.Code != http.StatusMethodNotAllowed || r.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off: preflight = %d %v", r.Code, r.Header())
	}

	d := testEngineDeps()
	d.CORSOrigins = []string{"https://app.example"}
	on, err := newEngine(d)
	if err != nil {
		t.Fatal(err)
	}
	r = serve(t, on, http.MethodOptions, "/api/v1/account/login", preflight)
	h := r.Header()
	if r.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "content-type") ||
		h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Max-Age") == "" ||
		!strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Errorf("preflight of a listed origin = %d %v", r.Code, h)
	}
	r = serve(t, on, http.MethodGet, "/livez", map[string]string{"Origin": "https://app.example"})
	if r.Header().Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(r.Header().Get("Access-Control-Expose-Headers"), RequestIDHeader) {
		t.Errorf("request of a listed origin: %v", r.Header())
	}
	preflight["Origin"] = "https://evil.example"
	r = serve(t, on, http.MethodOptions, "/api/v1/account/login", preflight)
	if r.Header().Get("Access-Control-Allow-Origin") != "" || r.Code == http.StatusNoContent {
		t.Errorf("preflight of an unlisted origin = %d %v", r.Code, r.Header())
	}
	if v := serve(t, on, http.MethodGet, "/livez", map[string]string{"Origin": "https://evil.example"}).Header().Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("unlisted origin got Access-Control-Allow-Origin %q", v)
	}
}
