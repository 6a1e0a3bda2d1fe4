package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOffsetPastLimitRange (finding 8): an offset the count and LIMIT
// cannot hold is a 422 naming offset, not a 500.
func TestOffsetPastLimitRange(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.createSuperAdmin("root1", "root-password")
	root := s.newClient(false)
	root.login("root1", "root-password")
	for _, off := range []string{"9223372036854765807", "9223372036854775807", "2147483648"} {
		r := root.do("GET", "/api/v1/users?offset="+off, nil)
		expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "offset" {
			t.Fatalf("offset=%s: %s", off, r.body)
		}
	}
	expect(t, root.do("GET", "/api/v1/users?offset=2147483647", nil), http.StatusOK)
}

// TestInvalidUTF8Refused (finding 10): a body with bytes that are not
// UTF-8, anywhere, is 400 invalid_json, so two different byte strings
// never become one password.
func TestInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	for _, body := range []string{
		"{\"username\":\"utf8user\",\"password\":\"\xff\xfepassword\"}",
		"{\"username\":\"utf8user\",\"password\":\"password1\",\"\xc3\":1}",
		"{\"username\":\"utf8\x80user\",\"password\":\"password1\"}",
	} {
		r := c.do("POST", "/api/v1/account/signup", nil, opts{rawBody: []byte(body)})
		expect(t, r, http.StatusBadRequest, "invalid_json")
	}
	r := c.do("POST", "/api/v1/account/login", nil, opts{rawBody: []byte("{\"username\":\"utf8user\",\"password\":\"\x80\x81password\"}")})
	expect(t, r, http.StatusBadRequest, "invalid_json")
	if n := s.queryInt("SELECT count(*) FROM users"); n != 0 {
		t.Fatalf("%d users created from invalid UTF-8", n)
	}
}

// TestDuplicateAndCaseVariantKeys (finding 12): a key given twice, or in
// another letter case than the field's, is 400 invalid_json rather than
// "last one wins".
func TestDuplicateAndCaseVariantKeys(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(false)
	s.addSecret("dup-password")
	for _, body := range []string{
		`{"username":"dupuser1","username":"admin1","password":"dup-password"}`,
		`{"username":"dupuser1","Username":"admin1","password":"dup-password"}`,
		`{"USERNAME":"dupuser1","password":"dup-password"}`,
		`{"username":"dupuser1","password":"dup-password","passworD":"other-password"}`,
	} {
		r := c.do("POST", "/api/v1/account/signup", nil, opts{rawBody: []byte(body)})
		expect(t, r, http.StatusBadRequest, "invalid_json")
	}
	expect(t, c.do("POST", "/api/v1/account/signup", nil, opts{rawBody: []byte(`{"username":"dupuser1","password":"dup-password"}`)}), http.StatusCreated)
}

// TestContentLengthWithTransferEncoding (finding 12): a request with both
// framings is 400 and the connection closes, so a request smuggled after
// the body is never answered.
func TestContentLengthWithTransferEncoding(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	smuggled := "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
	req := "POST /api/v1/account/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Fatalf("status %d, close %v: want 400 and the connection closed", resp.StatusCode, resp.Close)
	}
	if second, err := http.ReadResponse(br, nil); err == nil {
		t.Fatalf("the smuggled request was answered: %d", second.StatusCode)
	}
}

// TestCSRFOriginIsConfigured (finding 12): the Origin that lets a
// cookie-authenticated request a browser marks cross-site through is a
// configured public origin, scheme and port included, never whatever Host
// the request names.
func TestCSRFOriginIsConfigured(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_HTTP_PUBLIC_ORIGINS": "https://accounts.example.com"})
	browser := s.newClient(true)
	browser.signUp("origin1", "origin-password")
	logout := func(origin string) *response {
		return browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Origin": origin, "Sec-Fetch-Site": "cross-site"}})
	}
	browser.login("origin1", "origin-password")
	expect(t, logout(s.base), http.StatusForbidden, "csrf_rejected")
	expect(t, logout("http://accounts.example.com"), http.StatusForbidden, "csrf_rejected")
	expect(t, logout("https://accounts.example.com:8443"), http.StatusForbidden, "csrf_rejected")
	expect(t, logout("https://accounts.example.com"), http.StatusNoContent)
}

// TestSecureCookiesHostPrefixed (finding 12): with auth.cookie_secure the
// session and device cookies are __Host- cookies: Secure, Path=/, no
// Domain.
func TestSecureCookiesHostPrefixed(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ACCOUNTS_AUTH_COOKIE_SECURE": "true"})
	c := s.newClient(false)
	c.signUp("hostck1", "hostck-password")
	r := c.login("hostck1", "hostck-password")
	var names []string
	for _, v := range r.Header.Values("Set-Cookie") {
		if !strings.HasPrefix(v, "__Host-") || !strings.Contains(v, "; Path=/;") && !strings.HasSuffix(v, "; Path=/") ||
			!strings.Contains(v, "; Secure") || strings.Contains(v, "Domain=") {
			t.Errorf("cookie %q is not a __Host- cookie", v)
		}
		names = append(names, strings.SplitN(v, "=", 2)[0])
	}
	if len(names) != 2 {
		t.Fatalf("cookies %v, want the session and the device cookie", names)
	}
	// The prefixed cookie authenticates.
	me := s.newClient(false)
	expect(t, me.do("GET", "/api/v1/account", nil, opts{header: map[string]string{"Cookie": "__Host-access_token=" + c.token}}), http.StatusOK)
}
