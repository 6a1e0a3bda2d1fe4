package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// These tests take an attacker's view of the API. The harness already
// checks on every recorded response that there is no Server header, that
// everything under /api/v1 is Cache-Control: no-store and that every error
// is a problem document; the tests here add what an attacker would try
// that the functional tests do not.

// TestNewTokenAtEveryLogin: every login issues a new 256-bit token, also on
// a client that comes with a token of its own choosing (session fixation),
// and the database holds only the token's SHA-256.
func TestNewTokenAtEveryLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS": "0"})
	pw := "victim-pw-" + randomHex(6)
	s.newClient(false).signUp("victim", pw)
	tokenRe := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	login := func(c *client) string {
		t.Helper()
		c.token = ""
		c.login("victim", pw)
		if !tokenRe.MatchString(c.token) || seen[c.token] {
			t.Fatalf("login %d: token %q is malformed or was issued before", len(seen)+1, c.token)
		}
		seen[c.token] = true
		return c.token
	}
	// Twenty logins: twenty tokens, twenty live sessions.
	var clients []*client
	for range 20 {
		c := s.newClient(false)
		login(c)
		clients = append(clients, c)
	}
	for _, c := range clients {
		expect(t, c.do("GET", "/api/v1/account", nil), http.StatusOK)
	}
	// Log out and in again on the same client: a new token.
	c := clients[0]
	old := c.token
	expect(t, c.do("DELETE", "/api/v1/account/logout", nil), http.StatusNoContent)
	if login(c) == old {
		t.Fatal("a login after logout reused the token")
	}
	// Fixation: a browser that arrives with a cookie an attacker planted
	// gets a token of the server's choosing, and the planted one stays
	// worthless.
	planted := base64.RawURLEncoding.EncodeToString([]byte("attacker-chosen-token-value-32by"))
	browser := s.newClient(true)
	u, _ := url.Parse(s.base + "/api/v1/")
	browser.http.Jar.SetCookies(u, []*http.Cookie{{Name: "access_token", Value: planted, Path: "/api/v1"}})
	r := browser.do("POST", "/api/v1/account/login", map[string]string{"username": "victim", "password": pw})
	expect(t, r, http.StatusOK)
	var v struct {
		AccessToken string `json:"access_token"`
	}
	r.json(t, &v)
	s.addToken(v.AccessToken)
	if v.AccessToken == planted || !strings.Contains(cookieOf(r), "access_token="+v.AccessToken) {
		t.Fatalf("login kept the planted token or did not set its own: %q", cookieOf(r))
	}
	attacker := s.newClient(false)
	attacker.token = planted
	expect(t, attacker.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	// Only hashes are stored.
	rows := s.queryString(`SELECT string_agg(encode(token_hash, 'base64'), ',') FROM auth_sessions`)
	for token := range seen {
		h := sha256.Sum256([]byte(token))
		if strings.Contains(rows, base64.StdEncoding.EncodeToString([]byte(token))[:20]) {
			t.Fatal("a token is stored as such")
		}
		if !strings.Contains(rows, base64.StdEncoding.EncodeToString(h[:])) && token != old {
			t.Fatalf("no session row holds the SHA-256 of a live token")
		}
	}
	t.Logf("%d logins, %d distinct tokens; a planted cookie was replaced and stays unauthenticated", len(seen)+1, len(seen)+1)
}

// endpointRule is what each kind of caller gets from one operation.
type endpointRule struct {
	anonymous, user, admin, superAdmin int
}

// TestEveryEndpointByRole sends every operation of the served OpenAPI
// document as an anonymous caller, a user, an admin and a super admin, and
// checks each answer against endpointRules, which restates the role
// rules per endpoint. An operation missing from the table fails the test,
// so a new endpoint must state its rule here. (TestRoleMatrix covers the
// caller × target combinations of /users/{id}/….)
func TestEveryEndpointByRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS": "0"})
	rules := endpointRules()
	const (
		ok      = http.StatusOK
		created = http.StatusCreated
	)
	var ops []string
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	for _, op := range ops {
		if _, ok := rules[op]; !ok {
			t.Errorf("%s is in the OpenAPI document but has no rule in TestEveryEndpointByRole", op)
		}
	}

	root, _ := s.as(nil, "super_admin", "root1")
	passwords, callers := roleCallers(t, s, root)
	callers["anonymous"] = func() *client { return s.newClient(false) }
	n := 0
	target := func() string {
		n++
		r := root.do("POST", "/api/v1/users", map[string]string{"username": fmt.Sprintf("target%03d", n), "password": "target-password"})
		expect(t, r, created)
		return createdID(t, r)
	}
	s.addSecret("target-password")
	expect(t, root.do("POST", "/api/v1/users", map[string]string{"username": "loginuser", "password": "target-password"}), created)
	cells := 0
	for _, op := range slices.Sorted(maps.Keys(rules)) {
		rule := rules[op]
		method, path, _ := strings.Cut(op, " ")
		for role, want := range map[string]int{"anonymous": rule.anonymous, "user": rule.user, "admin": rule.admin, "super_admin": rule.superAdmin} {
			c := callers[role]()
			n++
			p := strings.ReplaceAll(path, "{id}", target())
			body := endpointBody(op, role, n, passwords)
			r := c.do(method, p, body, endpointOpts(method))
			cells++
			if r.StatusCode != want {
				t.Errorf("%s as %s: %d, want %d; %s", op, role, r.StatusCode, want, r.body)
			}
			if op == "PUT /api/v1/account/password" && r.StatusCode == ok {
				// Back to the password the next cells log in with.
				s.addSecret(passwords[role] + "-2")
				expect(t, c.do(method, p, map[string]string{"current_password": passwords[role] + "-2", "new_password": passwords[role]}), ok)
			}
		}
	}
	s.addSecret("newcomer-password")
	s.addSecret("created-password")
	s.addSecret("reset-password")
	t.Logf("%d operations × 4 callers = %d cells, each as the table says", len(rules), cells)
}

// endpointRules is TestEveryEndpointByRole's table: per operation, the
// status an anonymous caller, a user, an admin and a super admin get.
func endpointRules() map[string]endpointRule {
	const (
		ok      = http.StatusOK
		created = http.StatusCreated
		done    = http.StatusNoContent
		anon    = http.StatusUnauthorized
		denied  = http.StatusForbidden
		missing = http.StatusNotFound
	)
	return map[string]endpointRule{
		"POST /api/v1/account/signup":   {created, denied, denied, denied},
		"POST /api/v1/account/login":    {ok, denied, denied, denied},
		"GET /api/v1/account":           {anon, ok, ok, ok},
		"PATCH /api/v1/account":         {anon, ok, ok, ok},
		"PUT /api/v1/account/password":  {anon, ok, ok, ok},
		"DELETE /api/v1/account/logout": {anon, done, done, done},
		"GET /api/v1/account/sessions":  {anon, ok, ok, ok},
		// {id} is a user's id, never a session of the caller's.
		"DELETE /api/v1/account/sessions/{id}":  {anon, missing, missing, missing},
		"DELETE /api/v1/users/{id}/sessions":    {anon, denied, done, done},
		"POST /api/v1/users":                    {anon, denied, created, created},
		"GET /api/v1/users":                     {anon, denied, ok, ok},
		"GET /api/v1/audit":                     {anon, denied, denied, ok},
		"GET /api/v1/users/{id}":                {anon, denied, ok, ok},
		"DELETE /api/v1/users/{id}":             {anon, denied, done, done},
		"PATCH /api/v1/users/{id}":              {anon, denied, ok, ok},
		"PUT /api/v1/users/{id}/password":       {anon, denied, done, done},
		"PUT /api/v1/users/{id}/roles/admin":    {anon, denied, denied, done},
		"DELETE /api/v1/users/{id}/roles/admin": {anon, denied, denied, done},
		"PUT /api/v1/users/{id}/activation":     {anon, denied, done, done},
		"DELETE /api/v1/users/{id}/activation":  {anon, denied, done, done},
		"GET /livez":                            {ok, ok, ok, ok},
		"GET /readyz":                           {ok, ok, ok, ok},
		"GET /openapi.json":                     {ok, ok, ok, ok},
		"GET /metrics":                          {missing, missing, missing, missing}, // on metrics.addr
	}
}

// roleCallers creates a user, an admin and a super admin, and returns
// their passwords and, per role, a function that logs in a fresh session.
func roleCallers(t *testing.T, s *server, root *client) (passwords map[string]string, callers map[string]func() *client) {
	t.Helper()
	passwords, callers = map[string]string{}, map[string]func() *client{}
	// Each cell gets a fresh session, since logout and password changes
	// end sessions.
	for _, role := range []string{"user", "admin", "super_admin"} {
		name := strings.ReplaceAll(role, "_", "") + "1"
		pw := "pw-" + randomHex(6)
		passwords[role] = pw
		s.addSecret(pw)
		switch role {
		case "super_admin":
			s.createSuperAdmin(name, pw)
		default:
			expect(t, root.do("POST", "/api/v1/users", map[string]string{"username": name, "password": pw, "role": role}), http.StatusCreated)
		}
		callers[role] = func() *client {
			c := s.newClient(false)
			c.login(name, pw)
			return c
		}
	}
	return passwords, callers
}

// endpointOpts is how a cell sends its body: a PATCH as a merge patch,
// with the If-Match that PATCH /users/{id} requires (* matches any user).
func endpointOpts(method string) opts {
	if method != http.MethodPatch {
		return opts{}
	}
	return opts{header: map[string]string{"Content-Type": "application/merge-patch+json", "If-Match": "*"}}
}

// endpointBody is the request body of operation op for the n-th cell, as
// a caller of role.
func endpointBody(op, role string, n int, passwords map[string]string) any {
	switch op {
	case "POST /api/v1/account/signup":
		return map[string]string{"username": fmt.Sprintf("newcomer%03d", n), "password": "newcomer-password"}
	case "POST /api/v1/account/login":
		return map[string]string{"username": "loginuser", "password": "target-password"}
	case "PUT /api/v1/account/password":
		pw := passwords[role]
		if role == "anonymous" {
			pw = "no-password"
		}
		return map[string]string{"current_password": pw, "new_password": pw + "-2"}
	case "POST /api/v1/users":
		return map[string]string{"username": fmt.Sprintf("created%03d", n), "password": "created-password"}
	case "PATCH /api/v1/account", "PATCH /api/v1/users/{id}":
		return map[string]string{"display_name": fmt.Sprintf("Name %d", n)}
	case "PUT /api/v1/users/{id}/password":
		return map[string]string{"password": "reset-password"}
	}
	return nil
}

// TestCSRFOnEveryStateChange sends every state-changing endpoint, with the
// session in the cookie only, as a browser sends it from another site:
// Sec-Fetch-Site cross-site or same-site with any body type (none,
// text/plain, a form, multipart, even JSON), or, from a browser without
// Fetch Metadata, a foreign, null or look-alike Origin: each is 403
// csrf_rejected and nothing changes. Then what the service's own pages
// send (Sec-Fetch-Site same-origin, or the own Origin from an older
// browser), a request with neither header (not a browser's), and the
// public Origin (http.public_origins) pass, with or without a body type.
func TestCSRFOnEveryStateChange(t *testing.T) {
	t.Parallel()
	const public = "https://accounts.example.com"
	s := startServer(t, map[string]string{"ACCOUNTS_HTTP_PUBLIC_ORIGINS": public})
	root, _ := s.as(nil, "super_admin", "root1")
	pw := "browser-pw-" + randomHex(6)
	s.addSecret(pw)
	s.createSuperAdmin("browser1", pw)
	browser := s.newClient(true)
	browser.login("browser1", pw)
	targetID := createdID(t, expectCreated(t, root.do("POST", "/api/v1/users", map[string]string{"username": "target1", "password": "target-password"})))
	s.addSecret("target-password")
	host := strings.TrimPrefix(s.base, "http://")
	changes := []struct{ method, path, body string }{
		{"PUT", "/api/v1/account/password", `{"current_password":"` + pw + `","new_password":"new-` + pw + `"}`},
		{"POST", "/api/v1/users", `{"username":"csrf1","password":"csrf-password"}`},
		{"PUT", "/api/v1/users/" + targetID + "/password", `{"password":"csrf-password"}`},
		{"PUT", "/api/v1/users/" + targetID + "/roles/admin", ``},
		{"PUT", "/api/v1/users/" + targetID + "/activation", ``},
		{"DELETE", "/api/v1/users/" + targetID + "/activation", ``},
		{"DELETE", "/api/v1/users/" + targetID + "/roles/admin", ``},
		{"DELETE", "/api/v1/users/" + targetID, ``},
		{"DELETE", "/api/v1/account/logout", ``},
	}
	s.addSecret("new-" + pw)
	s.addSecret("csrf-password")
	forged := forgedCrossSite(s.base, host, public)
	before := tableDigest(t, s)
	rejected := 0
	for _, ch := range changes {
		for _, h := range forged {
			o := opts{header: h, noJSONCT: true}
			if ch.body != "" {
				o.rawBody = []byte(ch.body)
			}
			r := browser.do(ch.method, ch.path, nil, o)
			if r.StatusCode != http.StatusForbidden || r.problem(t).Code != "csrf_rejected" {
				t.Errorf("%s %s with %v: %d, want 403 csrf_rejected; %s", ch.method, ch.path, h, r.StatusCode, r.body)
			}
			rejected++
		}
	}
	if after := tableDigest(t, s); after != before {
		t.Fatalf("a rejected request changed the database:\nbefore %s\nafter  %s", before, after)
	}
	// What the service's own pages send passes, with or without a body
	// type, and so does a client that is no browser.
	allowed := []map[string]string{
		{"Sec-Fetch-Site": "same-origin"}, {"Origin": s.base}, {}, {"Origin": public, "Sec-Fetch-Site": "cross-site"},
	}
	for i, ch := range changes {
		h := allowed[i%len(allowed)]
		o := opts{header: h, noJSONCT: true}
		if ch.body != "" {
			o.rawBody = []byte(ch.body)
			o.noJSONCT = false
		}
		r := browser.do(ch.method, ch.path, nil, o)
		if r.StatusCode >= 300 {
			t.Errorf("%s %s with %v: %d, want it to pass; %s", ch.method, ch.path, h, r.StatusCode, r.body)
		}
	}
	t.Logf("%d cross-site forms of %d state changes rejected with nothing written; same-origin requests pass", rejected, len(changes))
}

// forgedCrossSite are the headers of a cookie-authenticated request that
// another site's page makes a browser send to the service at base (host
// is its host:port): marked cross-site or same-site by Fetch Metadata with
// any body type, or, from a browser without it, with a foreign, null or
// look-alike Origin (public, the configured origin, on another scheme or
// port).
func forgedCrossSite(base, host, public string) []map[string]string {
	hostname, port, _ := strings.Cut(host, ":")
	crossSite := func(site string, h map[string]string) map[string]string {
		out := map[string]string{"Sec-Fetch-Site": site}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	var forged []map[string]string
	for _, site := range []string{"cross-site", "same-site"} {
		for _, h := range []map[string]string{
			{},
			{"Content-Type": "text/plain"},
			{"Content-Type": "application/x-www-form-urlencoded"},
			{"Content-Type": "multipart/form-data; boundary=xyz"},
			{"Content-Type": "application/json"},
			{"Origin": "http://evil.example"},
			{"Origin": base},
		} {
			forged = append(forged, crossSite(site, h))
		}
	}
	forged = append(forged,
		map[string]string{"Origin": "http://evil.example"},
		map[string]string{"Origin": "null"},
		map[string]string{"Origin": "http://" + host + ".evil.example"},
		map[string]string{"Origin": "http://evil.example/" + host},
		map[string]string{"Origin": "http://" + hostname + ":1" + port},
		map[string]string{"Origin": "http://" + hostname},
		map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"},
		map[string]string{"Origin": "http://accounts.example.com"},
		map[string]string{"Origin": public + ":8443"},
	)
	return forged
}

func expectCreated(t *testing.T, r *response) *response {
	t.Helper()
	expect(t, r, http.StatusCreated)
	return r
}

// TestMetacharactersVerbatim puts SQL and LIKE metacharacters, quotes,
// backslashes, NUL and unicode into every string the API takes. Where the
// rules allow them they are stored and come back verbatim; where they do
// not, the answer is a 4xx, never a 5xx:
//
//   - passwords (sign-up, login, change, admin reset, create) round-trip
//     exactly, and a variant that differs only by a metacharacter fails;
//   - usernames keep their case and their . _ -, and _ is no wildcard;
//   - usernames, query parameters, path ids and forged keyset cursors with
//     metacharacters answer 422 (or 401 at login).
func TestMetacharactersVerbatim(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS": "0", "ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "0"})
	root, _ := s.as(nil, "super_admin", "root1")
	salt := randomHex(3)
	passwords := []string{
		`'; DROP TABLE users; --` + salt,
		`%_%_%_%_` + salt,
		`\\'\"\` + salt + `\`,
		`"quoted" 'single' ` + "`back`" + salt,
		`$1 $$ $body$ :name ?` + salt,
		"😀 Ωμέγα 中文 עברית \u202eRTL" + salt,
		"e\u0301 combining é " + salt,
		"nul\x00byte and tab\tand newline\n" + salt,
		`' OR '1'='1' /* ` + salt + ` */`,
		strings.Repeat("%", 120) + salt,
	}
	metaPasswordsRoundTrip(t, s, root, passwords)
	metaUsernamesVerbatim(t, s, root)
	metas := []string{`'; DROP TABLE users; --`, `%`, `_`, `\`, `'`, `"`, "\x00", "😀", `admin' --`, `1 OR 1=1`, `username desc; --`, `$$`}
	metaRefused(t, s, root, metas)
	forged := metaForgedCursors(t, root, metas)
	metaTablesIntact(t, s)
	t.Logf("%d metacharacter passwords round-tripped through sign-up, login, change and reset; %d metacharacter values refused with 4xx in usernames, 7 query parameters and path ids; %d forged cursors answered 200 or 422",
		len(passwords), len(metas), forged)
}

// metaPasswordsRoundTrip signs up, logs in, changes and resets each password verbatim; no near variant logs in.
func metaPasswordsRoundTrip(t *testing.T, s *server, root *client, passwords []string) {
	t.Helper()
	for i, pw := range passwords {
		s.addSecret(pw)
		name := fmt.Sprintf("meta%02d", i)
		c := s.newClient(false)
		c.signUp(name, pw)
		c.login(name, pw)
		for _, variant := range []string{pw + " ", strings.ReplaceAll(pw, "%", "x"), strings.ReplaceAll(pw, "'", `\'`), strings.ToUpper(pw), pw[:len(pw)-1]} {
			if variant == pw {
				continue
			}
			expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": name, "password": variant}), http.StatusUnauthorized, "invalid_credentials")
		}
		// Change it to the next one and back, then an admin resets it.
		next := passwords[(i+1)%len(passwords)] + "!"
		s.addSecret(next)
		expect(t, c.do("PUT", "/api/v1/account/password", map[string]string{"current_password": pw, "new_password": next}), http.StatusOK)
		s.newClient(false).login(name, next)
		me := getUser(t, root, idOfUser(t, c))
		expect(t, root.do("PUT", "/api/v1/users/"+me.ID+"/password", map[string]string{"password": pw}), http.StatusNoContent)
		s.newClient(false).login(name, pw)
	}
	// Created by an admin, with a metacharacter password.
	expect(t, root.do("POST", "/api/v1/users", map[string]string{"username": "Made_By.Admin-1", "password": passwords[0]}), http.StatusCreated)
	s.newClient(false).login("made_by.admin-1", passwords[0])
}

// metaUsernamesVerbatim checks that usernames keep case and separators and _ is no wildcard.
func metaUsernamesVerbatim(t *testing.T, s *server, root *client) {
	t.Helper()
	// Usernames: case and separators verbatim; _ is not a wildcard.
	for _, name := range []string{"O_Brien-x.Y", "ab_cd", "abXcd", "A.B-C_D.e"} {
		pw := "pw-" + name + "-" + randomHex(4)
		s.addSecret(pw)
		c := s.newClient(false)
		id := c.signUp(name, pw)
		c.login(strings.ToUpper(name), pw)
		if u := getUser(t, root, id); u.Username != name {
			t.Errorf("username %q came back as %q", name, u.Username)
		}
		if got := s.queryString(`SELECT username FROM users WHERE id = $1`, id); got != name {
			t.Errorf("username %q stored as %q", name, got)
		}
	}
	expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "ab%cd", "password": "whatever-password"}), http.StatusUnauthorized, "invalid_credentials")
	expect(t, s.newClient(false).do("POST", "/api/v1/account/signup", map[string]string{"username": "AB_CD", "password": "whatever-password"}), http.StatusConflict, "username_taken")
	expect(t, s.newClient(false).do("POST", "/api/v1/account/signup", map[string]string{"username": "abycd", "password": "whatever-password"}), http.StatusCreated)
	s.addSecret("whatever-password")
}

// metaRefused checks that where metacharacters are not allowed they get a 4xx, never a 5xx.
func metaRefused(t *testing.T, s *server, root *client, metas []string) {
	t.Helper()
	// Where metacharacters are not allowed: 4xx, never 5xx.
	for _, m := range metas {
		if m != "_" { // the one the username rules allow (tested above)
			for _, r := range []*response{
				root.do("POST", "/api/v1/users", map[string]string{"username": "x" + m + "yzzz", "password": "meta-password"}),
				s.newClient(false).do("POST", "/api/v1/account/signup", map[string]string{"username": "x" + m + "yzzz", "password": "meta-password"}),
			} {
				expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
			}
		}
		expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": m, "password": "meta-password"}), http.StatusUnauthorized, "invalid_credentials")
		for _, param := range []string{"sort", "order", "role", "is_active", "limit", "offset", "after"} {
			r := root.do("GET", "/api/v1/users?"+param+"="+url.QueryEscape(m), nil)
			expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
		}
		expect(t, root.do("GET", "/api/v1/users/"+url.PathEscape(m), nil), http.StatusUnprocessableEntity, "validation_failed")
	}
	s.addSecret("meta-password")
}

// metaForgedCursors sends forged keyset cursors: a key with metacharacters is just a value; one PostgreSQL cannot hold (NUL) or that does not parse is a 422.
func metaForgedCursors(t *testing.T, root *client, metas []string) (forged int) {
	t.Helper()
	// Forged keyset cursors: a key with metacharacters is just a value; one
	// PostgreSQL cannot hold (NUL) or that does not parse is a 422.
	cursors := []string{`{"s":"username","k":"\ud800","id":"0192d4e0-7c1a-7b3e-9f00-123456789abc"}`}
	for _, sortField := range []string{"username", "role", "is_active", "created_at", "updated_at"} {
		for _, key := range append(slices.Clone(metas), "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999+14:00", "true", "ADMIN", strings.Repeat("x", 5000)) {
			cursors = append(cursors, mustJSON(map[string]string{"s": sortField, "k": key, "id": "0192d4e0-7c1a-7b3e-9f00-123456789abc"}))
		}
	}
	for _, cursor := range cursors {
		var c struct{ S string }
		_ = json.Unmarshal([]byte(cursor), &c)
		r := root.do("GET", "/api/v1/users?sort="+c.S+"&after="+base64.RawURLEncoding.EncodeToString([]byte(cursor)), nil)
		forged++
		if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("cursor %s: %d, want 200 or 422; %s", cursor, r.StatusCode, r.body)
		}
	}
	return forged
}

// metaTablesIntact checks that the tables are still there.
func metaTablesIntact(t *testing.T, s *server) {
	t.Helper()
	var tables int
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'auth_sessions')`).Scan(&tables); err != nil || tables != 2 {
		t.Fatalf("tables: %d, %v", tables, err)
	}
}

// idOfUser returns the id of the client's own user.
func idOfUser(t *testing.T, c *client) string {
	t.Helper()
	r := c.do("GET", "/api/v1/account", nil)
	expect(t, r, http.StatusOK)
	var u userJSON
	r.json(t, &u)
	return u.ID
}

// TestNoVersionHeaders: no answer names the server software or its
// version, in any header, on any kind of route.
func TestNoVersionHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	leaky := regexp.MustCompile(`(?i)\b(gin|golang|go-http|go/[0-9]|net/http|postgres|pgx|ent)\b|\d+\.\d+\.\d+`)
	for _, path := range []string{"/livez", "/readyz", "/openapi.json", "/metrics", "/nope", "/api/v1/account", "/api/v1/users/nope"} {
		for _, method := range []string{"GET", "HEAD", "OPTIONS", "PATCH"} {
			r := c.do(method, path, nil)
			for name, values := range r.Header {
				if slices.Contains([]string{"Server", "X-Powered-By", "X-Runtime", "X-Version", "Via"}, name) {
					t.Errorf("%s %s: header %s: %v", method, path, name, values)
				}
				// Content-Type may carry a format version (Prometheus').
				if name == "Date" || name == "Content-Type" || name == "Content-Length" || name == "Retry-After" || name == "Allow" || name == "X-Request-Id" {
					continue
				}
				for _, v := range values {
					if leaky.MatchString(v) {
						t.Errorf("%s %s: header %s: %q names software or a version", method, path, name, v)
					}
				}
			}
		}
	}
}
