package main

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cookieOf returns the raw Set-Cookie header for the session cookie
// (access_token, or __Host-access_token when Secure).
func cookieOf(r *response) string {
	for _, v := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "access_token=") || strings.HasPrefix(v, "__Host-access_token=") {
			return v
		}
	}
	return ""
}

// TestAccountLifecycle walks the account rows of the endpoint table for a
// browser (cookie) and a non-browser client (bearer): sign up, log in,
// read oneself, log out.
func TestAccountLifecycle(t *testing.T) {
	t.Parallel()
	// SQL echo on: the statements are logged, and the secrets check proves
	// their arguments (hashes, token hashes) are not.
	s := startServer(t, map[string]string{"ACCOUNTS_DATABASE_ECHO": "true"})
	browser := s.newClient(true)
	id := browser.signUp("alice", "alice-password")

	r := browser.do("POST", "/api/v1/account/signup", map[string]string{"username": "alice2", "password": "alice-password"})
	// The new user reads their account at /api/v1/account; /users/{id}
	// is for admins.
	if loc := r.Header.Get("Location"); r.StatusCode != 201 || loc != "/api/v1/account" {
		t.Fatalf("sign-up: %d, Location %q", r.StatusCode, loc)
	}

	before := s.clock.Now()
	r = browser.login("alice", "alice-password")
	var login struct {
		AccessToken string    `json:"access_token"`
		TokenType   string    `json:"token_type"`
		ExpiresAt   time.Time `json:"expires_at"`
	}
	r.json(t, &login)
	if login.TokenType != "Bearer" || len(login.AccessToken) != 43 || !login.ExpiresAt.Equal(before.Add(30*time.Minute).Truncate(time.Microsecond)) && login.ExpiresAt.Sub(before) != 30*time.Minute {
		t.Fatalf("login answer %+v: want a 43-character Bearer token expiring 30m from the test clock", login)
	}
	// The cookie: HttpOnly, SameSite=Lax, scoped to the API, as long as
	// the session, not Secure unless configured.
	ck := cookieOf(r)
	for _, want := range []string{"access_token=" + login.AccessToken, "Path=/api/v1", "Max-Age=1800", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %q", ck, want)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("cookie %q is Secure though auth.cookie_secure is off", ck)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("login Cache-Control %q", cc)
	}

	// A second login gets a new token (no fixation), both sessions live.
	bearer := s.newClient(false)
	bearer.login("ALICE", "alice-password")
	if bearer.token == login.AccessToken {
		t.Fatal("two logins got the same token")
	}
	for _, c := range []*client{browser, bearer} {
		r = c.do("GET", "/api/v1/account", nil)
		expect(t, r, http.StatusOK)
		var u map[string]any
		r.json(t, &u)
		if u["id"] != id || u["username"] != "alice" || u["role"] != "user" || u["is_active"] != true {
			t.Fatalf("GET /account = %v", u)
		}
		// Exactly the document's properties, each present (an optional
		// one as null): nothing reaches a response unnoticed.
		if want := s.doc.Components.Schemas["User"].Value.Properties; len(u) != len(want) {
			t.Fatalf("user has fields %v, want exactly the User schema's %d", u, len(want))
		}
	}

	// Logged-in callers may not sign up or log in again.
	expect(t, browser.do("POST", "/api/v1/account/signup", map[string]string{"username": "bob12", "password": "bob-password"}), 403, "already_authenticated")
	expect(t, bearer.do("POST", "/api/v1/account/login", map[string]string{"username": "alice", "password": "alice-password"}), 403, "already_authenticated")

	// Logout: 204, the row is gone, the cookie is cleared.
	r = browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Content-Type": "application/json"}})
	expect(t, r, http.StatusNoContent)
	if ck := cookieOf(r); !strings.Contains(ck, "Max-Age=0") {
		t.Errorf("logout cookie %q does not clear it", ck)
	}
	if n := s.queryInt("SELECT count(*) FROM auth_sessions"); n != 1 {
		t.Fatalf("%d sessions after one of two logged out, want 1", n)
	}
	stale := s.newClient(false)
	stale.token = login.AccessToken
	expect(t, stale.do("GET", "/api/v1/account", nil), 401, "unauthenticated")
	expect(t, browser.do("GET", "/api/v1/account", nil), 401, "unauthenticated")
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil), 401, "unauthenticated")
	// A stale token does not stop a new login.
	expect(t, stale.do("POST", "/api/v1/account/login", map[string]string{"username": "alice", "password": "alice-password"}), 200)
	expect(t, bearer.do("GET", "/api/v1/account", nil), 200)
}

func TestAuthenticationErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-token", "Bearer " + strings.Repeat("A", 43)} {
		var o opts
		if h != "" {
			o.header = map[string]string{"Authorization": h}
		}
		r := c.do("GET", "/api/v1/account", nil, o)
		expect(t, r, 401, "unauthenticated")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 for %q without WWW-Authenticate", h)
		}
	}
	r := c.do("GET", "/api/v1/account", nil, opts{header: map[string]string{"Cookie": "access_token=garbage"}})
	expect(t, r, 401, "unauthenticated")
}

func TestSignUpErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	c.signUp("Carol", "carol-password")
	post := func(body string, o ...opts) *response {
		op := opts{rawBody: []byte(body)}
		if len(o) > 0 {
			op.noJSONCT = o[0].noJSONCT
			op.header = o[0].header
		}
		return c.do("POST", "/api/v1/account/signup", nil, op)
	}
	fields := func(r *response) []string {
		var f []string
		for _, e := range r.problem(t).Errors {
			f = append(f, e.Field)
		}
		return f
	}

	expect(t, post(`{"username":"carol","password":"other-password"}`), 409, "username_taken")
	expect(t, post(`{"username":"CAROL","password":"other-password"}`), 409, "username_taken")

	r := post(`{"username":"a.","password":"short"}`)
	expect(t, r, 422, "validation_failed")
	if f := fields(r); len(f) != 2 || f[0] != "username" || f[1] != "password" {
		t.Fatalf("fields %v, want username and password", f)
	}
	for _, bad := range []string{"abcd", "a..bcd", "_abcde", "abcde_", "ab cde", "abc'; DROP TABLE users;--", strings.Repeat("a", 33)} {
		r := c.do("POST", "/api/v1/account/signup", map[string]string{"username": bad, "password": "good-password"})
		expect(t, r, 422, "validation_failed")
	}
	expect(t, c.do("POST", "/api/v1/account/signup", map[string]string{"username": "dave1", "password": strings.Repeat("x", 129)}), 422, "validation_failed")
	expect(t, c.do("POST", "/api/v1/account/signup", map[string]string{"username": "dave1", "password": strings.Repeat("é", 128)}), 201)

	// Malformed bodies are 400 naming the field where there is one.
	r = post(`{"username":"erin1","password":"erin-password","admin":true}`)
	expect(t, r, 400, "invalid_json")
	if f := fields(r); len(f) != 1 || f[0] != "admin" {
		t.Fatalf("unknown field: fields %v, want [admin]", f)
	}
	r = post(`{"username":42,"password":"erin-password"}`)
	expect(t, r, 400, "invalid_json")
	if f := fields(r); len(f) != 1 || f[0] != "username" {
		t.Fatalf("wrong type: fields %v, want [username]", f)
	}
	for _, body := range []string{``, `{`, `{"username":"erin1"`, `[]`, `"x"`, `null x`, `{"username":"erin1","password":"erin-password"} {}`, `{"username":"erin1","password":"erin-password"}x`} {
		expect(t, post(body), 400, "invalid_json")
	}
	// No Content-Type, or another one: 415.
	expect(t, post(`{"username":"erin1","password":"erin-password"}`, opts{noJSONCT: true}), 415, "unsupported_media_type")
	expect(t, post(`username=erin1`, opts{header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}), 415, "unsupported_media_type")
	// Over 1 MiB: 413, with and without a Content-Length.
	big := `{"username":"erin1","password":"` + strings.Repeat("p", 1<<20) + `"}`
	expect(t, post(big), 413, "body_too_large")
	expect(t, post(`{"username":"erin1","password":"erin-password"}`+strings.Repeat(" ", 1<<20)), 413, "body_too_large")
	if n := s.queryInt("SELECT count(*) FROM users WHERE username = 'erin1'"); n != 0 {
		t.Fatal("a rejected sign-up was stored")
	}
	// SQL metacharacters in a password are just characters.
	c.signUp("frank", `p'; DROP TABLE users;--`)
	c.login("frank", `p'; DROP TABLE users;--`)
}

// TestConcurrentSignUps: sign-ups of one name in several cases at once get
// exactly one 201 and 409 for the rest, never a 500.
func TestConcurrentSignUps(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	names := []string{"Grace", "grace", "GRACE", "gRaCe", "graCE", "GRace", "grACE", "gracE"}
	statuses := make([]int, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			c := s.newClient(false)
			r := c.do("POST", "/api/v1/account/signup", map[string]string{"username": name, "password": "grace-password"})
			statuses[i] = r.StatusCode
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, st := range statuses {
		count[st]++
	}
	if count[201] != 1 || count[409] != len(names)-1 {
		t.Fatalf("statuses %v: want exactly one 201 and %d 409", statuses, len(names)-1)
	}
	if n := s.queryInt("SELECT count(*) FROM users WHERE lower(username) = 'grace'"); n != 1 {
		t.Fatalf("%d rows for grace", n)
	}
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	c.signUp("heidi", "heidi-password")
	wrong := c.do("POST", "/api/v1/account/login", map[string]string{"username": "heidi", "password": "not-her-password"})
	unknown := c.do("POST", "/api/v1/account/login", map[string]string{"username": "nobody", "password": "not-her-password"})
	malformed := c.do("POST", "/api/v1/account/login", map[string]string{"username": "x", "password": "not-her-password"})
	for _, r := range []*response{wrong, unknown, malformed} {
		expect(t, r, 401, "invalid_credentials")
		if string(r.body) != string(wrong.body) {
			t.Fatalf("unknown user and wrong password answer differently:\n%s\n%s", r.body, wrong.body)
		}
	}
	expect(t, c.do("POST", "/api/v1/account/login", map[string]string{"username": "heidi"}), 422, "validation_failed")

	// An inactive account answers as a wrong password does, the right
	// password included (issue 29: it would confirm a guessed password).
	s.sql("UPDATE users SET is_active = false WHERE username = 'heidi'")
	expect(t, c.do("POST", "/api/v1/account/login", map[string]string{"username": "heidi", "password": "not-her-password"}), 401, "invalid_credentials")
	expect(t, c.do("POST", "/api/v1/account/login", map[string]string{"username": "heidi", "password": "heidi-password"}), 401, "invalid_credentials")
}

// TestLoginThrottle: failed logins are limited per username and per client
// address, with 429 and Retry-After; the window passes on the test clock.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "3",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS":  "6",
		"ACCOUNTS_AUTH_LOGIN_THROTTLE_WINDOW":       "10m",
	})
	c := s.newClient(false)
	c.signUp("ivan1", "ivan-password")
	c.signUp("judy1", "judy-password")
	fail := func(name string) *response {
		return c.do("POST", "/api/v1/account/login", map[string]string{"username": name, "password": "wrong-password"})
	}
	for range 3 {
		expect(t, fail("ivan1"), 401, "invalid_credentials")
	}
	r := fail("IVAN1")
	expect(t, r, 429, "too_many_attempts")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 1 || ra > 600 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Even the right password waits: the throttle comes first.
	expect(t, c.do("POST", "/api/v1/account/login", map[string]string{"username": "ivan1", "password": "ivan-password"}), 429, "too_many_attempts")
	// Another name from the same address still works, until the address
	// limit (6 failures) is reached.
	for range 3 {
		expect(t, fail("judy1"), 401, "invalid_credentials")
	}
	expect(t, fail("nobody1"), 429, "too_many_attempts")
	// A forged X-Forwarded-For does not escape the address limit: no proxy
	// is trusted by default.
	r = c.do("POST", "/api/v1/account/login", map[string]string{"username": "other1", "password": "x-password"},
		opts{header: map[string]string{"X-Forwarded-For": "203.0.113.9"}})
	expect(t, r, 429, "too_many_attempts")

	s.clock.Advance(10*time.Minute + time.Second)
	c.login("ivan1", "ivan-password")
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_DATABASE_ECHO": "true"})
	a := s.newClient(true)
	a.signUp("kate1", "kate-password")
	a.login("kate1", "kate-password")
	other := s.newClient(false)
	other.login("kate1", "kate-password")
	change := func(cur, next string) *response {
		s.addSecret(next)
		return a.do("PUT", "/api/v1/account/password", map[string]string{"current_password": cur, "new_password": next})
	}
	expect(t, change("wrong-password", "kate-new-password"), 403, "wrong_password")
	expect(t, change("kate-password", "kate-password"), 422, "validation_failed")
	expect(t, change("kate-password", "short"), 422, "validation_failed")
	expect(t, a.do("PUT", "/api/v1/account/password", map[string]string{"current_password": "kate-password"}), 422, "validation_failed")
	expect(t, change("kate-password", "kate-new-password"), 200)
	// Every session ends; this client goes on with the one the answer
	// carries.
	expect(t, a.do("GET", "/api/v1/account", nil), 200)
	expect(t, other.do("GET", "/api/v1/account", nil), 401, "unauthenticated")
	expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "kate1", "password": "kate-password"}), 401, "invalid_credentials")
	s.newClient(false).login("kate1", "kate-new-password")
	expect(t, s.newClient(false).do("PUT", "/api/v1/account/password", map[string]string{"current_password": "a", "new_password": "b"}), 401, "unauthenticated")
}

// TestSessionExpiryAndSliding runs the session clock forward: a session
// used when less than 20% of its TTL is left is extended (and its cookie
// refreshed); one left alone expires.
func TestSessionExpiryAndSliding(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	used := s.newClient(true)
	used.signUp("liam1", "liam-password")
	used.login("liam1", "liam-password")
	idle := s.newClient(false)
	idle.login("liam1", "liam-password")

	s.clock.Advance(23 * time.Minute) // 7 of 30 minutes left: more than 20%
	r := used.do("GET", "/api/v1/account", nil)
	expect(t, r, 200)
	if ck := cookieOf(r); ck != "" {
		t.Fatalf("cookie re-sent with 7 minutes left: %q", ck)
	}
	s.clock.Advance(2 * time.Minute) // 5 minutes left: less than 20%
	r = used.do("GET", "/api/v1/account", nil)
	expect(t, r, 200)
	if ck := cookieOf(r); !strings.Contains(ck, "Max-Age=1800") || !strings.Contains(ck, "HttpOnly") {
		t.Fatalf("extension did not refresh the cookie: %q", ck)
	}
	s.clock.Advance(6 * time.Minute) // 31 minutes after login
	expect(t, idle.do("GET", "/api/v1/account", nil), 401, "unauthenticated")
	expect(t, used.do("GET", "/api/v1/account", nil), 200)
	s.clock.Advance(31 * time.Minute)
	expect(t, used.do("GET", "/api/v1/account", nil), 401, "unauthenticated")
	if n := s.queryInt("SELECT count(*) FROM auth_sessions"); n != 0 {
		t.Fatalf("%d expired sessions left after they were presented", n)
	}
}

// TestInactiveUserRequest: a user deactivated behind the service's back
// gets 403 on the next request, and all of their sessions end.
func TestInactiveUserRequest(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	a := s.newClient(false)
	a.signUp("mia12", "mia-password")
	a.login("mia12", "mia-password")
	b := s.newClient(false)
	b.login("mia12", "mia-password")
	s.sql("UPDATE users SET is_active = false WHERE username = 'mia12'")
	expect(t, a.do("GET", "/api/v1/account", nil), 403, "account_inactive")
	if n := s.queryInt("SELECT count(*) FROM auth_sessions"); n != 0 {
		t.Fatalf("%d sessions left for an inactive user", n)
	}
	s.sql("UPDATE users SET is_active = true WHERE username = 'mia12'")
	expect(t, b.do("GET", "/api/v1/account", nil), 401, "unauthenticated")
}

// TestCSRF: a state change authenticated by the cookie is refused when a
// browser marks it as from another site (Sec-Fetch-Site, or an older
// browser's Origin that is not the request's host), unless the Origin is
// among http.public_origins; the service's own page passes with no body
// type at all; bearer-authenticated requests need nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_HTTP_PUBLIC_ORIGINS": "https://accounts.example.com"})
	browser := s.newClient(true)
	browser.signUp("noah1", "noah-password")
	browser.login("noah1", "noah-password")
	crossSite := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: crossSite}), 403, "csrf_rejected")
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Sec-Fetch-Site": "same-site"}}), 403, "csrf_rejected")
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Origin": "http://evil.example"}}), 403, "csrf_rejected")
	// JSON is no pass: the browser says where the request came from.
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}}), 403, "csrf_rejected")
	expect(t, browser.do("PUT", "/api/v1/account/password", nil, opts{rawBody: []byte(`{}`), noJSONCT: true, header: map[string]string{"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}}), 403, "csrf_rejected")
	// Reads need nothing.
	expect(t, browser.do("GET", "/api/v1/account", nil, opts{header: crossSite}), 200)
	// The bearer token in a header cannot be sent by another site.
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{useBearer: true, header: map[string]string{"Cookie": "", "Sec-Fetch-Site": "cross-site"}}), 204)
	browser.login("noah1", "noah-password")
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Origin": "https://accounts.example.com", "Sec-Fetch-Site": "cross-site"}}), 204)
	// An older browser without Fetch Metadata, on the service's own page.
	browser.login("noah1", "noah-password")
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Origin": s.base}}), 204)
}

func TestRoutesAndProbes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	expect(t, c.do("GET", "/livez", nil), 200)
	expect(t, c.do("GET", "/readyz", nil), 200)
	r := c.do("GET", "/openapi.json", nil)
	expect(t, r, 200)
	if !strings.Contains(string(r.body), `"openapi": "3.1.0"`) {
		t.Fatal("openapi.json is not OpenAPI 3.1")
	}
	r = s.getMetrics()
	expect(t, r, 200)
	if !strings.Contains(string(r.body), "accounts_db_pool") {
		t.Fatalf("metrics lack pool statistics")
	}
	expect(t, c.do("GET", "/nope", nil), 404, "not_found")
	expect(t, c.do("GET", "/api/v1/account/", nil), 404, "not_found")
	r = c.do("POST", "/api/v1/account", nil)
	expect(t, r, 405, "method_not_allowed")
	if r.Header.Get("Allow") != "GET, PATCH, HEAD" {
		t.Fatalf("Allow %q, want GET, PATCH, HEAD", r.Header.Get("Allow"))
	}
	expect(t, c.do("POST", "/api/v1/users/"+"not-a-uuid"+"/activation", nil), 405, "method_not_allowed")

	// A database that is behind the binary's migrations is not ready.
	s.sql(`DELETE FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = (SELECT max(version) FROM atlas_schema_revisions.atlas_schema_revisions WHERE version <> '.atlas_cloud_identifier')`)
	r = c.do("GET", "/readyz", nil)
	expect(t, r, 503, "service_unavailable")
	if !strings.Contains(r.problem(t).Detail, "migration") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("readyz 503 without a reason or Retry-After: %s", r.body)
	}
}

// TestOpenAPIValidationCatchesDrift proves the response check has teeth: a
// user with an extra field (a leaked hash), a wrong role or a missing
// field, and an undocumented status, all fail validation.
func TestOpenAPIValidationCatchesDrift(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	c.signUp("olga1", "olga-password")
	c.login("olga1", "olga-password")
	r := c.do("GET", "/api/v1/account", nil)
	expect(t, r, 200)
	if err := s.validateErr(r.Request, r); err != nil {
		t.Fatalf("the real answer fails validation: %v", err)
	}
	for _, body := range []string{
		strings.Replace(string(r.body), `"role":"user"`, `"role":"user","password_hash":"x"`, 1),
		strings.Replace(string(r.body), `"role":"user"`, `"role":"USER"`, 1),
		strings.Replace(string(r.body), `"is_active":true,`, ``, 1),
	} {
		bad := &response{Response: r.Response, body: []byte(body)}
		if err := s.validateErr(r.Request, bad); err == nil {
			t.Errorf("a drifted body passed validation: %s", body)
		}
	}
	teapot := *r.Response
	teapot.StatusCode = http.StatusTeapot
	teapot.Header = http.Header{"Content-Type": {"application/json"}}
	if err := s.validateErr(r.Request, &response{Response: &teapot, body: []byte(`{}`)}); err == nil {
		t.Error("an undocumented status with a non-problem body passed validation")
	}
	if s.validated < 4 {
		t.Fatalf("only %d responses were validated", s.validated)
	}
}

// TestSecureCookieAndTrustedProxy: auth.cookie_secure marks the cookie
// Secure; with the proxy trusted, X-Forwarded-For names the client, so
// each forwarded address has its own failed-login budget.
func TestSecureCookieAndTrustedProxy(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"ACCOUNTS_AUTH_COOKIE_SECURE":              "true",
		"ACCOUNTS_HTTP_TRUSTED_PROXIES":            "127.0.0.1/32, ::1",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS": "2",
	})
	c := s.newClient(false)
	c.signUp("paul1", "paul-password")
	r := c.login("paul1", "paul-password")
	if ck := cookieOf(r); !strings.Contains(ck, "; Secure") {
		t.Fatalf("cookie %q is not Secure", ck)
	}
	anon := s.newClient(false)
	from := func(addr string) *response {
		return anon.do("POST", "/api/v1/account/login", map[string]string{"username": "paul1", "password": "wrong-password"},
			opts{header: map[string]string{"X-Forwarded-For": addr}})
	}
	expect(t, from("198.51.100.1"), 401, "invalid_credentials")
	expect(t, from("198.51.100.1"), 401, "invalid_credentials")
	expect(t, from("198.51.100.1"), 429, "too_many_attempts")
	expect(t, from("198.51.100.2"), 401, "invalid_credentials")
}
