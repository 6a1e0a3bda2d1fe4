package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// TestLogoutGlobalEndsEverySession is the reported bug: logout with
// scope=global (Supabase's spelling) answered 204 and the user's other
// session went on working.
func TestLogoutGlobalEndsEverySession(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	a := s.newClient(false)
	a.signUp("gina1", "gina-password")
	a.login("gina1", "gina-password")
	b := s.newClient(false)
	b.login("gina1", "gina-password")
	expect(t, a.do("DELETE", "/api/v1/account/logout?scope=global", nil), http.StatusNoContent)
	expect(t, a.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, b.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	if n := s.queryInt(`SELECT count(*) FROM audit_events WHERE action = 'user.logged_out'
		AND details->>'scope' = 'global' AND details->>'sessions_ended' = '2'`); n != 1 {
		t.Fatalf("%d audit events of the global logout of 2 sessions, want 1", n)
	}
}

// TestCookieLogoutWithoutBody is the reported bug: a browser's plain
// fetch DELETE (no body, no Content-Type) from the service's own origin
// was refused as csrf_rejected.
func TestCookieLogoutWithoutBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	browser := s.newClient(true)
	browser.signUp("hugo1", "hugo-password")
	browser.login("hugo1", "hugo-password")
	r := browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	expect(t, r, http.StatusNoContent)
	expect(t, browser.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
}

// TestCreateUserRetriedWithIdempotencyKey is the reported bug: a retried
// POST /users with the same Idempotency-Key got 201, then 409 with no id.
func TestCreateUserRetriedWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.createSuperAdmin("root1", "root-password")
	root := s.newClient(false)
	root.login("root1", "root-password")
	s.addSecret("ivan-password")
	body := map[string]string{"username": "ivan1", "password": "ivan-password"}
	key := opts{header: map[string]string{"Idempotency-Key": `"create-ivan-1"`}}
	first := root.do("POST", "/api/v1/users", body, key)
	expect(t, first, http.StatusCreated)
	again := root.do("POST", "/api/v1/users", body, key)
	expect(t, again, http.StatusCreated)
	if string(again.body) != string(first.body) || again.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("replay %s (Location %q), want the first answer %s (Location %q)",
			again.body, again.Header.Get("Location"), first.body, first.Header.Get("Location"))
	}
	if n := s.queryInt("SELECT count(*) FROM audit_events WHERE action = 'user.created' AND target_name = 'ivan1'"); n != 1 {
		t.Fatalf("%d user.created events for ivan1, want 1", n)
	}
	// The same key with another body is refused and creates nothing.
	other := map[string]string{"username": "ivan2", "password": "ivan-password"}
	expect(t, root.do("POST", "/api/v1/users", other, key), http.StatusUnprocessableEntity, "idempotency_key_reused")
	// Keys are per caller: another admin's same key is a new request.
	admin, _ := s.as(root, "admin", "admin1")
	expect(t, admin.do("POST", "/api/v1/users", other, key), http.StatusCreated)
	if n := s.queryInt("SELECT count(*) FROM users WHERE username IN ('ivan1', 'ivan2')"); n != 2 {
		t.Fatalf("%d users ivan1/ivan2, want 2", n)
	}
	// After 24 hours the key is forgotten: the request runs again.
	s.clock.Advance(24*time.Hour + time.Second)
	root.login("root1", "root-password")
	expect(t, root.do("POST", "/api/v1/users", body, key), http.StatusConflict, "username_taken")
	// A malformed key is refused before anything runs.
	for _, bad := range []string{`""`, "two words", strings.Repeat("k", 256), `"a\b"`} {
		expect(t, root.do("POST", "/api/v1/users", body, opts{header: map[string]string{"Idempotency-Key": bad}}), http.StatusUnprocessableEntity, "validation_failed")
	}
}

// TestIdempotentCreatesRace: parallel requests with one key and body
// create one user, and every one of them answers what the create did:
// an admin's creates (which also lock the admin's row) and anonymous
// sign-ups (which only the key's unique index serializes).
func TestIdempotentCreatesRace(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	s.addSecret("race-password")
	for _, tc := range []struct{ name, path string }{{"race1", "/api/v1/users"}, {"race2", "/api/v1/account/signup"}} {
		body := map[string]string{"username": tc.name, "password": "race-password"}
		const n = 8
		answers := make([]*response, n)
		var wg sync.WaitGroup
		for i := range n {
			c := root
			if tc.path == "/api/v1/account/signup" {
				c = s.newClient(false)
			}
			wg.Go(func() {
				answers[i] = c.do("POST", tc.path, body, opts{header: map[string]string{"Idempotency-Key": "race-key"}})
			})
		}
		wg.Wait()
		for i, r := range answers {
			if r.StatusCode != http.StatusCreated || string(r.body) != string(answers[0].body) {
				t.Errorf("%s request %d: %d %s, want 201 %s", tc.path, i, r.StatusCode, r.body, answers[0].body)
			}
		}
		if c := s.queryInt("SELECT count(*) FROM users WHERE username = $1", tc.name); c != 1 {
			t.Fatalf("%d users %s, want 1", c, tc.name)
		}
		if c := s.queryInt("SELECT count(*) FROM audit_events WHERE action IN ('user.created', 'user.signed_up') AND target_name = $1", tc.name); c != 1 {
			t.Fatalf("%d creation events for %s, want 1", c, tc.name)
		}
	}
}

// TestSignUpIdempotencyKey: a retried sign-up with its key gets the first
// answer, not 409; another body with the key is 422.
func TestSignUpIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	s.addSecret("olga-password")
	body := map[string]string{"username": "olga1", "password": "olga-password"}
	key := opts{header: map[string]string{"Idempotency-Key": `"signup-olga"`}}
	first := c.do("POST", "/api/v1/account/signup", body, key)
	expect(t, first, http.StatusCreated)
	again := c.do("POST", "/api/v1/account/signup", body, key)
	expect(t, again, http.StatusCreated)
	if string(again.body) != string(first.body) || again.Header.Get("Location") != "/api/v1/account" {
		t.Fatalf("replay %s (Location %q), want %s (Location /api/v1/account)", again.body, again.Header.Get("Location"), first.body)
	}
	body["password"] = "olga-password-2"
	s.addSecret("olga-password-2")
	expect(t, c.do("POST", "/api/v1/account/signup", body, key), http.StatusUnprocessableEntity, "idempotency_key_reused")
	if n := s.queryInt("SELECT count(*) FROM idempotency_keys"); n != 1 {
		t.Fatalf("%d stored answers, want 1", n)
	}
	if n := s.queryInt("SELECT count(*) FROM idempotency_keys WHERE position('olga' in convert_from(body, 'UTF8')) > 0 OR position('olga' in encode(fingerprint, 'escape')) > 0"); n != 0 {
		t.Fatal("the stored answer holds the body sent")
	}
}

type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

// sessionsOf lists the client's sessions.
func sessionsOf(t *testing.T, c *client) []sessionJSON {
	t.Helper()
	r := c.do("GET", "/api/v1/account/sessions", nil)
	expect(t, r, http.StatusOK)
	var l struct{ Sessions []sessionJSON }
	r.json(t, &l)
	return l.Sessions
}

func currentOf(t *testing.T, c *client) sessionJSON {
	t.Helper()
	for _, s := range sessionsOf(t, c) {
		if s.Current {
			return s
		}
	}
	t.Fatal("no session is marked current")
	return sessionJSON{}
}

// TestSessionsListAndRevoke: a user sees their own sessions (a short user
// agent, which is current), ends one by id, and cannot see or end another
// user's (404, as an unknown id); each end is audited.
func TestSessionsListAndRevoke(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	a := s.newClient(false)
	a.signUp("jane1", "jane-password")
	long := "Mozilla/5.0 (X11; Linux x86_64)\tAppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
	phone := s.newClient(false)
	r := phone.do("POST", "/api/v1/account/login", map[string]string{"username": "jane1", "password": "jane-password"}, opts{header: map[string]string{"User-Agent": long}})
	expect(t, r, http.StatusOK)
	s.addToken(phone.token)
	a.login("jane1", "jane-password")
	b := s.newClient(false)
	b.login("jane1", "jane-password")
	other := s.newClient(false)
	other.signUp("kurt1", "kurt-password")
	other.login("kurt1", "kurt-password")

	list := sessionsOf(t, a)
	if len(list) != 3 {
		t.Fatalf("%d sessions listed, want 3: %+v", len(list), list)
	}
	var current, labelled int
	for _, ss := range list {
		if ss.Current {
			current++
		}
		if strings.HasPrefix(ss.UserAgent, "Mozilla/5.0 (X11; Linux") {
			labelled++
			if n := len([]rune(ss.UserAgent)); n != 64 || strings.ContainsRune(ss.UserAgent, '\t') {
				t.Errorf("user agent %q (%d characters), want the first 64 printable ones", ss.UserAgent, n)
			}
		}
		if !ss.ExpiresAt.After(ss.CreatedAt) || ss.LastUsedAt.Before(ss.CreatedAt) {
			t.Errorf("session times out of order: %+v", ss)
		}
	}
	if current != 1 || labelled != 1 {
		t.Fatalf("%d current and %d with the long user agent, want 1 and 1: %+v", current, labelled, list)
	}

	// Another user's session id is unknown to this user: 404, and it lives on.
	theirs := currentOf(t, other).ID
	expect(t, a.do("DELETE", "/api/v1/account/sessions/"+theirs, nil), http.StatusNotFound, "session_not_found")
	expect(t, other.do("GET", "/api/v1/account", nil), http.StatusOK)
	for _, ss := range sessionsOf(t, a) {
		if ss.ID == theirs {
			t.Fatal("another user's session is in the list")
		}
	}
	expect(t, a.do("DELETE", "/api/v1/account/sessions/not-a-uuid", nil), http.StatusUnprocessableEntity, "validation_failed")

	// Ending b's session by id.
	bs := currentOf(t, b).ID
	expect(t, a.do("DELETE", "/api/v1/account/sessions/"+bs, nil), http.StatusNoContent)
	expect(t, b.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, a.do("DELETE", "/api/v1/account/sessions/"+bs, nil), http.StatusNotFound, "session_not_found")
	if n := s.queryInt("SELECT count(*) FROM audit_events WHERE action = 'user.session_revoked' AND details->>'session_id' = $1", bs); n != 1 {
		t.Fatalf("%d user.session_revoked events for %s, want 1", n, bs)
	}
	// Ending one's own current session by id logs out.
	expect(t, a.do("DELETE", "/api/v1/account/sessions/"+currentOf(t, a).ID, nil), http.StatusNoContent)
	expect(t, a.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
}

// TestLogoutScopes: others ends every session but the caller's; local
// (the default) the caller's; an unknown scope is 422; each is audited.
func TestLogoutScopes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	a := s.newClient(false)
	a.signUp("lena1", "lena-password")
	a.login("lena1", "lena-password")
	b := s.newClient(false)
	b.login("lena1", "lena-password")
	c := s.newClient(false)
	c.login("lena1", "lena-password")
	expect(t, a.do("DELETE", "/api/v1/account/logout?scope=everywhere", nil), http.StatusUnprocessableEntity, "validation_failed")
	expect(t, a.do("DELETE", "/api/v1/account/logout?scope=others", nil), http.StatusNoContent)
	expect(t, a.do("GET", "/api/v1/account", nil), http.StatusOK)
	expect(t, b.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, c.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	b.login("lena1", "lena-password")
	expect(t, a.do("DELETE", "/api/v1/account/logout", nil), http.StatusNoContent)
	expect(t, a.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, b.do("GET", "/api/v1/account", nil), http.StatusOK)
	got := s.queryString(`SELECT string_agg(details->>'scope' || '=' || (details->>'sessions_ended'), ' ' ORDER BY occurred_at, id)
		FROM audit_events WHERE action = 'user.logged_out'`)
	if got != "others=2 local=1" {
		t.Fatalf("logouts audited as %q, want \"others=2 local=1\"", got)
	}
}

// TestSessionLastUsedWritesAtMostEveryFewMinutes: a request within
// account.SessionTouchInterval of the last write writes nothing to the
// session row (its xmin stays), one after it records the time once.
func TestSessionLastUsedWritesAtMostEveryFewMinutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	a := s.newClient(false)
	a.signUp("milo1", "milo-password")
	a.login("milo1", "milo-password")
	id := currentOf(t, a).ID
	xmin := func() string { return s.queryString("SELECT xmin::text FROM auth_sessions WHERE id = $1", id) }
	before := xmin()
	s.clock.Advance(4 * time.Minute)
	for range 5 {
		expect(t, a.do("GET", "/api/v1/account", nil), http.StatusOK)
	}
	if after := xmin(); after != before {
		t.Fatalf("reads within the interval wrote the session row (xmin %s -> %s)", before, after)
	}
	s.clock.Advance(2 * time.Minute)
	expect(t, a.do("GET", "/api/v1/account", nil), http.StatusOK)
	written := xmin()
	if written == before {
		t.Fatal("a request past the interval did not record last_used_at")
	}
	if got := currentOf(t, a).LastUsedAt; got.Sub(s.clock.Now()).Abs() > time.Millisecond {
		t.Fatalf("last_used_at %v, want the clock's %v", got, s.clock.Now())
	}
	if again := xmin(); again != written {
		t.Fatal("the list right after the write wrote again")
	}
}

// TestAdminEndsUserSessions: an admin ends every session of a user they
// manage (audited with the count), and no one else's.
func TestAdminEndsUserSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, rootID := s.as(nil, "super_admin", "root1")
	admin, adminID := s.as(root, "admin", "admin1")
	user, userID := s.as(root, "user", "user1")
	user2 := s.newClient(false)
	s.addSecret("nora-password")
	user2.signUp("nora1", "nora-password")
	user2.login("nora1", "nora-password")

	expect(t, user2.do("DELETE", "/api/v1/users/"+userID+"/sessions", nil), http.StatusForbidden, "forbidden")
	expect(t, admin.do("DELETE", "/api/v1/users/"+rootID+"/sessions", nil), http.StatusForbidden, "forbidden")
	expect(t, admin.do("DELETE", "/api/v1/users/"+adminID+"/sessions", nil), http.StatusForbidden, "forbidden")
	expect(t, admin.do("DELETE", "/api/v1/users/01938c4e-0000-7000-8000-000000000000/sessions", nil), http.StatusNotFound, "user_not_found")
	expect(t, admin.do("DELETE", "/api/v1/users/"+userID+"/sessions", nil), http.StatusNoContent)
	expect(t, user.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, user2.do("GET", "/api/v1/account", nil), http.StatusOK)
	expect(t, admin.do("GET", "/api/v1/account", nil), http.StatusOK)
	if n := s.queryInt(`SELECT count(*) FROM audit_events WHERE action = 'user.sessions_revoked'
		AND actor_id = $1 AND target_id = $2 AND details->>'sessions_ended' = '1'`, adminID, userID); n != 1 {
		t.Fatalf("%d audit events of the admin ending user1's one session, want 1", n)
	}
	expect(t, root.do("DELETE", "/api/v1/users/"+adminID+"/sessions", nil), http.StatusNoContent)
	expect(t, admin.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
}

// TestRateLimitHeaders: the throttled routes answer with RateLimit-Policy
// and RateLimit (IETF httpapi ratelimit-headers draft) for the budgets of
// the client's address, counting down with each failure, 0 with the 429,
// and giving a successful login's attempt back; the username's budget is
// never shown (it would tell which names exist); other routes carry none.
func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "10",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS":  "3",
		"ACCOUNTS_AUTH_LOGIN_THROTTLE_WINDOW":       "10m",
		"ACCOUNTS_AUTH_SIGNUPS_PER_ADDRESS":         "5",
		"ACCOUNTS_AUTH_SIGNUP_WINDOW":               "1h",
	})
	c := s.newClient(false)
	r := c.do("POST", "/api/v1/account/signup", map[string]string{"username": "pia12", "password": "pia-password"})
	expect(t, r, http.StatusCreated)
	s.addSecret("pia-password")
	if p, l := r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"); p != `"signup";q=5;w=3600` || l != `"signup";r=4;t=3600` {
		t.Fatalf("sign-up: RateLimit-Policy %q, RateLimit %q", p, l)
	}
	login := func(pw string) *response {
		return c.do("POST", "/api/v1/account/login", map[string]string{"username": "pia12", "password": pw})
	}
	r = login("wrong-password")
	expect(t, r, http.StatusUnauthorized, "invalid_credentials")
	if p, l := r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"); p != `"address";q=3;w=600` || l != `"address";r=2;t=600` {
		t.Fatalf("failed login: RateLimit-Policy %q, RateLimit %q", p, l)
	}
	s.clock.Advance(time.Minute)
	r = login("pia-password")
	expect(t, r, http.StatusOK)
	if l := r.Header.Get("RateLimit"); l != `"address";r=2;t=540` {
		t.Fatalf("successful login: RateLimit %q, want the attempt given back", l)
	}
	// A wrong current password counts against the session's own budget
	// (issue 29), never the address's, and shows that one.
	r = c.do("PUT", "/api/v1/account/password", map[string]string{"current_password": "wrong-password", "new_password": "pia-password-2"})
	expect(t, r, http.StatusForbidden, "wrong_password")
	if p, l := r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"); p != `"session";q=5;w=600` || l != `"session";r=4;t=600` {
		t.Fatalf("wrong current password: RateLimit-Policy %q, RateLimit %q", p, l)
	}
	c.token = ""
	login("wrong-password")
	login("wrong-password")
	r = login("wrong-password")
	expect(t, r, http.StatusTooManyRequests, "too_many_attempts")
	if l, ra := r.Header.Get("RateLimit"), r.Header.Get("Retry-After"); l != `"address";r=0;t=`+ra {
		t.Fatalf("429: RateLimit %q, Retry-After %q", l, ra)
	}
	for _, resp := range []*response{r, c.do("GET", "/livez", nil)} {
		if strings.Contains(resp.Header.Get("RateLimit-Policy"), "username") || strings.Contains(resp.Header.Get("RateLimit"), "user") {
			t.Fatalf("a username's budget is shown: %q", resp.Header.Get("RateLimit"))
		}
	}
	if h := c.do("GET", "/livez", nil).Header.Get("RateLimit"); h != "" {
		t.Fatalf("an unthrottled route carries RateLimit %q", h)
	}
}

// TestSessionUserAgentMultibyte: a User-Agent of many multibyte characters
// logs in like any other and is kept as at most 64 bytes, cut between
// characters.
func TestSessionUserAgentMultibyte(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	c.signUp("ugo12", "ugo-password")
	r := c.do("POST", "/api/v1/account/login", map[string]string{"username": "ugo12", "password": "ugo-password"},
		opts{header: map[string]string{"User-Agent": strings.Repeat("Ünïcødé ", 20)}})
	expect(t, r, http.StatusOK)
	s.addToken(c.token)
	ua := currentOf(t, c).UserAgent
	if len(ua) > 64 || !utf8.ValidString(ua) || !strings.HasPrefix(ua, "Ünïcødé Ünïcødé") {
		t.Fatalf("user agent kept as %q (%d bytes)", ua, len(ua))
	}
}
