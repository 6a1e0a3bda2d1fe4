package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// badInputSeed makes TestMalformedInput send the same requests every run.
const badInputSeed = 20261125

// TestMalformedInput sends several thousand malformed requests, generated
// from a fixed seed, through every door of the API: bodies (random bytes,
// broken and mistyped JSON, unknown fields, deep nesting, huge numbers,
// invalid UTF-8, NUL, trailing data), paths (unknown, encoded, overlong,
// garbage ids), query parameters, Content-Type, Authorization, Origin,
// X-Forwarded-For and Cookie headers, and session tokens, both anonymous
// and with the valid tokens of a user, an admin and a super admin. Every
// request is built so that it must not change anything. Then:
//
//   - no answer is a 5xx;
//   - every error is application/problem+json with a matching status and
//     a code (and, for known routes, matches the OpenAPI document: the
//     harness checks every response it records);
//   - the users and auth_sessions tables are byte for byte as before (an
//     md5 of every row).
//
// A last part writes raw bytes on TCP, for framing that no HTTP client
// sends (bad request lines, bad escapes, headers without a colon, an
// oversized header block): net/http answers those itself with a plain 400
// or 431 before the service sees them, and the test checks there is no 5xx
// and no hang.
func TestMalformedInput(t *testing.T) {
	t.Parallel()
	const requests = 4000
	s := startServer(t, map[string]string{"ACCOUNTS_LOG_LEVEL": "info"})
	root, rootID := s.as(nil, "super_admin", "root1")
	admin, _ := s.as(root, "admin", "admin1")
	user, _ := s.as(nil, "user", "user1")
	authed := []*client{root, admin, user}
	before := tableDigest(t, s)

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		kinds    = map[string]int{}
		codes    = map[string]int{}
	)
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			g := &badGen{r: rand.New(rand.NewPCG(badInputSeed, uint64(w))), rootID: rootID}
			httpc := &http.Client{Timeout: 20 * time.Second}
			for range requests / workers {
				kind, req := g.request(s.base, authed)
				resp, err := httpc.Do(req)
				if err != nil {
					t.Errorf("%s %s (%s): %v", req.Method, req.URL, kind, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				r := &response{Response: resp, body: body}
				s.record(req, r)
				code := "(success)"
				if resp.StatusCode >= 400 && req.Method != http.MethodHead {
					var p problem
					if err := json.Unmarshal(body, &p); err != nil || p.Status != resp.StatusCode || p.Code == "" {
						t.Errorf("%s %s (%s) -> %d: not a problem document: %q", req.Method, req.URL, kind, resp.StatusCode, body)
					}
					code = p.Code
				}
				if resp.StatusCode >= 500 {
					t.Errorf("%s %s (%s) -> %d: %s", req.Method, req.URL, kind, resp.StatusCode, body)
				}
				mu.Lock()
				statuses[resp.StatusCode]++
				kinds[kind]++
				codes[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	raw := rawMalformedHTTP(t, s)

	after := tableDigest(t, s)
	if after != before {
		t.Errorf("the users and auth_sessions tables changed:\nbefore %s\nafter  %s", before, after)
	}
	t.Logf("seed %d: %d requests by kind %v", badInputSeed, requests, kinds)
	t.Logf("statuses %v; problem codes %v", statuses, codes)
	t.Logf("raw malformed HTTP: %d exchanges, statuses %v; %d reached the service (problem+json), the rest were refused by net/http (text/plain)",
		raw.sent, raw.statuses, raw.byService)
	t.Logf("tables unchanged: %s", after)
}

// tableDigest is the row count and an md5 of every row of users and
// auth_sessions.
func tableDigest(t *testing.T, s *server) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var digest string
	if err := conn.QueryRow(ctx, `SELECT
		'users ' || (SELECT count(*) FROM users) || ' ' || (SELECT coalesce(md5(string_agg(u::text, '|' ORDER BY u.id)), '') FROM users u) ||
		', auth_sessions ' || (SELECT count(*) FROM auth_sessions) || ' ' || (SELECT coalesce(md5(string_agg(a::text, '|' ORDER BY a.id)), '') FROM auth_sessions a)`).
		Scan(&digest); err != nil {
		t.Fatal(err)
	}
	return digest
}

// badGen generates malformed requests that must change nothing.
type badGen struct {
	r      *rand.Rand
	rootID string
}

func (g *badGen) pick(options ...string) string { return options[g.r.IntN(len(options))] }

// junk is a string of random runes from an alphabet rich in what breaks
// parsers and queries: quotes, backslashes, SQL and LIKE metacharacters,
// percent signs, NUL and control characters, non-ASCII and invalid UTF-8.
func (g *badGen) junk(maxLen int) string {
	alphabet := []string{"a", "Z", "0", "9", "'", `"`, `\`, ";", "--", "%", "_", "*", "/*", "*/", " ", "\t", "\n", "\x00", "\x01", "\x7f",
		"é", "ß", "€", "😀", "\u202e", "\ufeff", "\xff", "\xc3", "<", ">", "&", "{", "}", "[", "]", ":", ",", "=", "?", "#", "@", "$", "(", ")", "|", "^", "~", "`", ".", "-"}
	n := g.r.IntN(maxLen + 1)
	var b strings.Builder
	for range n {
		b.WriteString(alphabet[g.r.IntN(len(alphabet))])
	}
	return b.String()
}

// badUsername is never a valid username: too short, or holding a character
// the rules forbid.
func (g *badGen) badUsername() string {
	switch g.r.IntN(4) {
	case 0:
		// at most 3 characters, so that a byte inserted by body() cannot
		// make it valid
		return g.pick("", "a", "ab", "abc", "a.", ".a")
	case 1:
		return "user" + g.pick("'", `"`, `\`, ";", "%", " ", "\x00", "é", "/", "*") + "name"
	case 2:
		return g.pick("'; DROP TABLE users; --", `" OR "1"="1`, "admin'--", `%_%`, `\x27`, "𝓪𝓭𝓶𝓲𝓷", strings.Repeat("a", 33+g.r.IntN(100)))
	}
	return "bad" + g.junk(12) + "'"
}

// value is a JSON value of any type, often the wrong one.
func (g *badGen) value() any {
	switch g.r.IntN(9) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(1000) - 500
	case 2:
		return true
	case 3:
		return []any{g.junk(5), 1}
	case 4:
		return map[string]any{"x": g.junk(5)}
	case 5:
		return g.r.Float64() * 1e300
	case 6:
		return strings.Repeat("p", g.r.IntN(3000))
	}
	return g.junk(20)
}

// body returns a malformed body for a JSON endpoint, and whether it is
// (possibly) syntactically valid JSON.
func (g *badGen) body(fields ...string) []byte {
	obj := map[string]any{}
	for _, f := range fields {
		switch {
		case g.r.IntN(5) == 0:
			// the field is missing
		case f == "username":
			obj[f] = g.badUsername()
		case f == "current_password":
			obj[f] = "not-the-password-" + g.junk(8)
		default:
			obj[f] = g.value()
		}
	}
	if g.r.IntN(3) == 0 {
		obj[g.pick("admin", "role", "is_active", "id", "extra", "Username", "passwd", "")] = g.value()
	}
	b, _ := json.Marshal(obj)
	switch g.r.IntN(12) {
	case 0:
		return b[:g.r.IntN(len(b)+1)] // truncated
	case 1:
		i := g.r.IntN(len(b) + 1) // a random byte inserted
		return append(append(append([]byte{}, b[:i]...), byte(g.r.IntN(256))), b[i:]...)
	case 2:
		return append(b, g.pick("x", " {}", "[]", "\x00", ",")...) // trailing data
	case 3:
		return []byte(strings.Repeat("[", 1000+g.r.IntN(20000)) + strings.Repeat("]", g.r.IntN(100)))
	case 4:
		return []byte(`{"username":` + g.pick("1e999", "-0", "0x10", "NaN", "Infinity", "01", "1.", "\"\\ud800\"", "\"\\u0000\"", "\"\xff\xfe\"") + `,"password":"` + g.junk(10) + `"}`)
	case 5:
		b := make([]byte, g.r.IntN(300))
		for i := range b {
			b[i] = byte(g.r.IntN(256))
		}
		return b
	case 6:
		return append([]byte("\ufeff"), b...) // a byte-order mark
	case 7:
		return []byte(g.pick("", "null", "[]", `"x"`, "0", "true", "{}{}", "{", "}", `{"username"}`, `{"username":}`, `{,}`, `{"a":1,}`))
	case 8:
		// the same key twice: encoding/json keeps the last, which is also bad
		return []byte(`{"username":"validname1","username":` + mustJSON(g.badUsername()) + `,"password":"` + g.junk(6) + `"}`)
	}
	return b
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// garbageSegment is a path segment no route has, with percent-encoded
// bytes the client may send.
func (g *badGen) garbageSegment() string {
	seg := g.junk(15)
	if g.r.IntN(6) == 0 {
		seg += strings.Repeat("x", 2000)
	}
	return url.PathEscape(seg) + g.pick("", "%00", "%2F", "%2e%2e", "%25", "%C0%AF", "..", "~", ";x=1")
}

// badRequest is a malformed request in the making.
type badRequest struct {
	kind, method, path string
	body               []byte
	token              string
	header             http.Header
}

// request builds one malformed request and names its kind.
func (g *badGen) request(base string, authed []*client) (string, *http.Request) {
	br := &badRequest{method: http.MethodGet, header: http.Header{}}
	withToken := g.r.IntN(2) == 0
	if withToken {
		br.token = authed[g.r.IntN(len(authed))].token
	}
	switch g.r.IntN(8) {
	case 0, 1:
		g.badBody(br)
	case 2:
		g.badPath(br)
	case 3:
		g.badID(br)
	case 4:
		g.badQuery(br)
	case 5:
		g.badCredential(br, base)
	case 6:
		g.badHeader(br)
	default:
		g.badChange(br, withToken)
	}
	if br.token != "" && br.header.Get("Authorization") == "" {
		br.header.Set("Authorization", "Bearer "+br.token)
	}
	var rd io.Reader
	if br.body != nil {
		rd = bytes.NewReader(br.body)
	}
	req, err := http.NewRequest(br.method, base+br.path, rd)
	if err != nil {
		// A path the client itself refuses: fall back to an encoded one.
		req, _ = http.NewRequest(br.method, base+"/api/v1/"+url.PathEscape(br.path), rd)
	}
	for k, v := range br.header {
		req.Header[k] = v
	}
	return br.kind, req
}

// badBody makes a malformed body to an endpoint that takes one.
func (g *badGen) badBody(br *badRequest) {
	br.kind = "body"
	ep := []struct {
		method, path string
		fields       []string
	}{
		{"POST", "/api/v1/account/signup", []string{"username", "password"}},
		{"POST", "/api/v1/account/login", []string{"username", "password"}},
		{"PUT", "/api/v1/account/password", []string{"current_password", "new_password"}},
		{"POST", "/api/v1/users", []string{"username", "password", "role"}},
		// a user nobody may touch, or one that does not exist
		{"PUT", "/api/v1/users/" + g.pick(g.rootID, "0192d4e0-7c1a-7b3e-9f00-123456789abc") + "/password", []string{"password"}},
	}[g.r.IntN(5)]
	br.method, br.path, br.body = ep.method, ep.path, g.body(ep.fields...)
	br.header.Set("Content-Type", g.pick("application/json", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain",
		"application/json; charset", "application/jsonx", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", headerSafe(g.junk(20))))
}

// badPath makes an unknown or malformed path, with any method.
func (g *badGen) badPath(br *badRequest) {
	br.kind = "path"
	br.method = g.pick("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND")
	br.path = g.pick("", "/api", "/api/v1", "/api/v1/account", "/api/v1/users", "/API/v1", "/api/v2", "//api/v1", "/api/v1/users/x") + "/" + g.garbageSegment()
	if g.r.IntN(3) == 0 {
		br.path += "/" + g.garbageSegment()
	}
}

// badID makes a malformed user id in every /users/{id} route.
func (g *badGen) badID(br *badRequest) {
	br.kind = "id"
	sub := g.pick("", "/password", "/roles/admin", "/activation")
	br.method = map[string]string{"": "GET", "/password": "PUT", "/roles/admin": g.pick("PUT", "DELETE"), "/activation": g.pick("PUT", "DELETE")}[sub]
	id := g.pick("nope", "0192d4e0-7c1a-7b3e-9f00-123456789ab", "0192d4e07c1a7b3e9f00123456789abc", "{0192d4e0-7c1a-7b3e-9f00-123456789abc}",
		"urn:uuid:0192d4e0-7c1a-7b3e-9f00-123456789abc", "0192D4E0-7C1A-7B3E-9F00-123456789ABCD", "00000000-0000-0000-0000-00000000000g", "%27%20OR%201=1--", url.PathEscape(g.junk(40)))
	br.path = "/api/v1/users/" + id + sub
	if br.method == "PUT" && sub == "/password" {
		br.body = g.body("password")
		br.header.Set("Content-Type", "application/json")
	}
}

// badQuery makes malformed query parameters of the listing.
func (g *badGen) badQuery(br *badRequest) {
	br.kind = "query"
	q := url.Values{}
	for range 1 + g.r.IntN(4) {
		q.Add(g.pick("limit", "offset", "sort", "order", "role", "is_active", "after", "LIMIT", g.junk(4)),
			g.pick("-1", "0", "101", "1e3", "0x10", "9999999999999999999999", "NaN", "", "username;", "password_hash", "username' --", "1 OR 1=1", "%", "_", `\`, "ADMIN", "TRUE", "1", g.junk(30)))
	}
	br.path = "/api/v1/users?" + q.Encode()
	if g.r.IntN(4) == 0 {
		br.path = "/api/v1/users?" + g.pick("limit=%ZZ", "limit=%", "sort=%00", "&&&", "=", "a==b", "limit=1&limit=2&limit=x", "%E0%A4%A")
	}
}

// badCredential makes a malformed or forged credential, never a valid one.
func (g *badGen) badCredential(br *badRequest, base string) {
	br.kind = "credential"
	br.token = ""
	br.method = g.pick("GET", "PUT", "DELETE", "POST")
	br.path = g.pick("/api/v1/account", "/api/v1/account/logout", "/api/v1/account/password", "/api/v1/users", "/api/v1/users/"+g.rootID+"/activation")
	random := make([]byte, 32)
	for i := range random {
		random[i] = byte(g.r.IntN(256))
	}
	forged := base64.RawURLEncoding.EncodeToString(random)
	switch g.r.IntN(3) {
	case 0:
		br.header.Set("Authorization", g.pick("Bearer "+forged, "bearer "+forged, "Bearer  "+forged, "Bearer "+forged+"=", "Basic "+forged, "Bearer",
			"Bearer "+strings.Repeat("A", 8000), "Bearer ' OR '1'='1", "Token "+forged, "Bearer "+forged[:42], "Bearer "+forged+" extra", forged))
	case 1:
		br.header.Set("Cookie", g.pick("access_token="+forged, "access_token=", "access_token="+forged+"; access_token="+forged[1:], `access_token="`+forged+`"`,
			"access_token="+url.QueryEscape(g.junk(30)), "access_token="+strings.Repeat("x", 4000), "other=1", "access_token"))
	default:
		br.header.Set("Authorization", "Bearer "+forged)
		br.header.Set("Cookie", "access_token="+forged)
		br.header.Set("Origin", g.pick("null", "http://evil.example", base, ""))
	}
	if br.method != "GET" && br.method != "DELETE" {
		br.body = g.body("current_password", "new_password", "username", "password")
		br.header.Set("Content-Type", g.pick("application/json", "text/plain"))
	}
}

// badHeader makes malformed headers on a read that needs a session.
func (g *badGen) badHeader(br *badRequest) {
	br.kind = "header"
	br.method = "GET"
	br.path = g.pick("/api/v1/account", "/api/v1/users", "/livez", "/readyz", "/openapi.json")
	for range 1 + g.r.IntN(4) {
		name := g.pick("Origin", "X-Forwarded-For", "X-Real-IP", "Content-Type", "Accept", "Accept-Encoding", "Range", "If-None-Match", "X-Request-ID", "Forwarded", "Host-Override", "Transfer-Encoding-X")
		br.header.Set(name, headerSafe(g.junk(60)))
	}
}

// badChange makes state changes without a usable session or CSRF proof.
func (g *badGen) badChange(br *badRequest, withToken bool) {
	br.kind = "unauthorized-change"
	br.method = g.pick("PUT", "DELETE")
	br.path = "/api/v1/users/" + g.rootID + g.pick("/activation", "/roles/admin", "/password")
	if !withToken || g.r.IntN(2) == 0 {
		br.token = ""
		br.header.Set("Cookie", "access_token="+headerSafe(g.junk(43)))
	}
	br.header.Set("Content-Type", g.pick("text/plain", "application/x-www-form-urlencoded", "application/json"))
	br.body = []byte(`{"password":"` + g.junk(5) + `"}`)
}

// headerSafe keeps the bytes an HTTP client may put in a header value.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

type rawResult struct {
	sent      int
	byService int
	statuses  map[int]int
}

// rawMalformedHTTP writes requests no HTTP client would send and reads
// the answer (or the closed connection).
func rawMalformedHTTP(t *testing.T, s *server) rawResult {
	t.Helper()
	host := strings.TrimPrefix(s.base, "http://")
	cases := []string{
		"GET /api/v1/users/%ZZ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/v1/account%00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET api/v1/account HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/v1/account HTTP/9.9\r\nHost: x\r\n\r\n",
		"G\x00T /api/v1/account HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/v1/account HTTP/1.1\r\nHost: x\r\nNo-Colon-Here\r\n\r\n",
		"GET /api/v1/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x00b\r\n\r\n",
		"GET /api/v1/account HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
		"GET /api/v1/account HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 70000) + "\r\n\r\n",
		"POST /api/v1/account/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
		"POST /api/v1/account/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}",
		"POST /api/v1/account/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}",
		"\r\n\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	}
	res := rawResult{statuses: map[int]int{}}
	for _, c := range cases {
		conn, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = conn.Write([]byte(c))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		res.sent++
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("raw %q: no answer within 10s", c[:min(len(c), 60)])
			}
			res.statuses[0]++
			_ = conn.Close()
			continue
		}
		_ = resp.Body.Close()
		_ = conn.Close()
		res.statuses[resp.StatusCode]++
		// 505 is net/http's right answer to an unknown HTTP version.
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusHTTPVersionNotSupported || resp.StatusCode < 400 {
			t.Errorf("raw %q -> %d, want a 4xx", c[:min(len(c), 60)], resp.StatusCode)
		}
		// What reached the service got its problem; the rest net/http's
		// plain text.
		if ct := resp.Header.Get("Content-Type"); ct == "application/problem+json" {
			res.byService++
		}
	}
	return res
}
