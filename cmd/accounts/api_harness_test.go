package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/jackc/pgx/v5"

	"accounts/internal/syncbuf"
	"accounts/internal/testdb"
)

// This file is the harness of the end-to-end tests (api_*_test.go): each
// test runs the real program, run(), with `serve --addr 127.0.0.1:0`
// against a database of its own, and talks HTTP to it. The harness also
// validates every response against the served OpenAPI document and, when
// the test ends, checks that no response or log line carried a secret.

// testClock is the settable clock handed to run, as main hands it time.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// server is one running instance of the program under test.
type server struct {
	t      *testing.T
	base   string
	dbURL  string
	env    map[string]string
	clock  *testClock
	stderr *syncbuf.Buffer
	doc    *openapi3.T

	mu sync.Mutex
	// responses holds every response (status line, headers, body) except
	// the bodies of successful logins, which must carry the token.
	responses bytes.Buffer
	// secrets are strings that must never appear in a response or a log
	// line: passwords, the pepper, the database password, and tokens
	// (which may appear only in the login answer that issued them).
	secrets []string
	// validated counts responses checked against the OpenAPI document.
	validated int

	// cancel stops run as SIGINT/SIGTERM would; done gets what run
	// returned; stop does both once and keeps the result in stopErr.
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// secretDatabaseURL gives the test database a distinctive password when
// the server accepts any (trust authentication, as on the test servers),
// so that "the database password never shows" is a meaningful check.
func secretDatabaseURL(t *testing.T, raw string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if pw, ok := u.User.Password(); ok && len(pw) >= 12 {
		return raw, pw
	}
	pw := "dbpw-" + randomHex(8)
	u.User = url.UserPassword(u.User.Username(), pw)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, u.String()); err == nil {
		_ = c.Close(ctx)
		return u.String(), pw
	}
	return raw, ""
}

// startServer runs `accounts serve` on a fresh database. env adds to or
// overrides the test defaults, which keep argon2 cheap for a 2-core box.
// In the run TestThroughPgBouncer starts, the service reaches its database
// through PgBouncer (see reliability_pgbouncer_test.go).
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	dbURL := testdb.URL(t)
	if bouncer := bouncerFor(t); bouncer != nil {
		return bouncer.startServer(t, dbURL, env)
	}
	return startServerOn(t, dbURL, env)
}

// startServerOn is startServer on the database at rawURL.
func startServerOn(t *testing.T, rawURL string, env map[string]string) *server {
	t.Helper()
	dbURL, dbPassword := secretDatabaseURL(t, rawURL)
	s := launchServer(t, dbURL, env)
	if dbPassword != "" {
		s.addSecret(dbPassword)
	}
	s.waitListening(30 * time.Second)
	s.loadDocument()
	return s
}

// launchServer starts `accounts serve` on the database at dbURL, used as
// given, and returns without waiting for it to listen (waitListening does).
// The server stops when the test ends, or earlier with stop.
func launchServer(t *testing.T, dbURL string, env map[string]string) *server {
	t.Helper()
	pepper := "pepper-" + randomHex(16)
	s := &server{
		t:      t,
		dbURL:  dbURL,
		clock:  &testClock{t: time.Now().UTC()},
		stderr: &syncbuf.Buffer{},
		done:   make(chan error, 1),
		env: map[string]string{
			"DATABASE_URL":                        dbURL,
			"ACCOUNTS_LOG_FORMAT":                 "json",
			"ACCOUNTS_LOG_LEVEL":                  "debug",
			"ACCOUNTS_PASSWORD_PEPPER":            pepper,
			"ACCOUNTS_PASSWORD_ARGON2_TIME":       "1",
			"ACCOUNTS_PASSWORD_ARGON2_MEMORY_KIB": "64",
			"ACCOUNTS_PASSWORD_MAX_CONCURRENT":    "4",
			"ACCOUNTS_PASSWORD_MAX_WAIT":          "10s",
			"ACCOUNTS_DATABASE_POOL_SIZE":         "1",
			"ACCOUNTS_DATABASE_MAX_OVERFLOW":      "8",
			"ACCOUNTS_DATABASE_POOL_TIMEOUT":      "5s",
			// Tests sign up many users from one address; the ones about
			// the sign-up budget set their own.
			"ACCOUNTS_AUTH_SIGNUPS_PER_ADDRESS": "0",
			// The soft memory limit is the process's, and many servers
			// share this one.
			"ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB": "0",
			// /metrics on a loopback listener of its own, as by default,
			// but on a free port: parallel servers cannot share 3097.
			"ACCOUNTS_METRICS_ADDR": "127.0.0.1:0",
		},
	}
	s.addSecret(pepper)
	for k, v := range env {
		s.env[k] = v
	}
	suiteTexts.add(t.Name()+" server log", s.stderr.String)
	suiteTexts.add(t.Name()+" responses", s.recorded)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		s.done <- run(ctx, []string{"accounts", "serve", "--addr", "127.0.0.1:0"}, s.getenv, s.clock.Now, io.Discard, s.stderr)
	}()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
		s.checkSecrets()
		if t.Failed() {
			logs := s.stderr.String()
			t.Logf("server log (last 8 KiB):\n%s", logs[max(0, len(logs)-8192):])
		}
	})
	return s
}

// waitListening waits until the server logs the address it listens on.
func (s *server) waitListening(timeout time.Duration) {
	s.t.Helper()
	addrRe := regexp.MustCompile(`"msg":"listening".*"addr":"([^"]+)"`)
	deadline := time.Now().Add(timeout)
	for s.base == "" {
		if m := addrRe.FindStringSubmatch(s.stderr.String()); m != nil {
			s.base = "http://" + m[1]
			break
		}
		select {
		case err := <-s.done:
			s.done <- err
			s.t.Fatalf("serve exited before listening: %v\n%s", err, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("serve did not log its address within %s:\n%s", timeout, s.stderr.String())
		}
	}
}

// stop cancels serve and waits for run to return, once; later calls return
// the same result.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case s.stopErr = <-s.done:
		case <-time.After(20 * time.Second):
			s.stopErr = errors.New("serve did not stop within 20s")
		}
	})
	return s.stopErr
}

func (s *server) getenv(k string) string { return s.env[k] }

// loadDocument fetches /openapi.json from the server itself: responses are
// checked against what the service publishes, not against a copy.
func (s *server) loadDocument() {
	resp, err := http.Get(s.base + "/openapi.json")
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		s.t.Fatalf("served OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		s.t.Fatalf("served OpenAPI document is invalid: %v", err)
	}
	s.doc = doc
}

func (s *server) addSecret(v string) {
	s.mu.Lock()
	s.secrets = append(s.secrets, v)
	s.mu.Unlock()
	suiteSecrets.add(s.t.Name(), v)
}

// recorded returns every response recorded so far.
func (s *server) recorded() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.responses.String()
}

// checkSecrets fails the test when any secret shows in a recorded response
// or in the server's log, or when the log is not JSON lines.
func (s *server) checkSecrets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	logs := s.stderr.String()
	resp := s.responses.String()
	for _, sec := range s.secrets {
		if strings.Contains(logs, sec) {
			s.t.Errorf("a log line contains the secret %q", sec)
		}
		if strings.Contains(resp, sec) {
			s.t.Errorf("a response contains the secret %q", sec)
		}
	}
	for _, marker := range []string{"$argon2id$", `"password_hash"`, "PasswordHash"} {
		for what, text := range map[string]string{"log": logs, "response": resp} {
			if i := strings.Index(text, marker); i >= 0 {
				s.t.Errorf("a %s contains %q: …%s…", what, marker, text[max(0, i-300):min(len(text), i+100)])
			}
		}
	}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			s.t.Errorf("log line is not JSON: %q", sc.Text())
		}
	}
}

// client is one HTTP client of the server, with its own cookie jar (a
// browser) or none (bearer tokens only).
type client struct {
	s     *server
	http  *http.Client
	token string
}

func (s *server) newClient(withJar bool) *client {
	c := &client{s: s, http: &http.Client{Timeout: 30 * time.Second}}
	if withJar {
		jar, _ := cookiejar.New(nil)
		c.http.Jar = jar
	}
	return c
}

// response is a finished exchange.
type response struct {
	*http.Response
	body []byte
}

func (r *response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem is the error body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (r *response) problem(t *testing.T) problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p problem
	r.json(t, &p)
	if p.Status != r.StatusCode || p.Code == "" || p.Title == "" || !strings.HasSuffix(p.Type, p.Code) {
		t.Fatalf("malformed problem for status %d: %s", r.StatusCode, r.body)
	}
	return p
}

// opts modify one request.
type opts struct {
	header    map[string]string
	rawBody   []byte
	noJSONCT  bool
	useBearer bool
}

// do sends a request: body is JSON-encoded unless it is nil. A client with
// a token and no jar sends it as a bearer token.
func (c *client) do(method, path string, body any, o ...opts) *response {
	c.s.t.Helper()
	var op opts
	if len(o) > 0 {
		op = o[0]
	}
	var rd io.Reader
	var raw []byte
	if op.rawBody != nil {
		raw = op.rawBody
	} else if body != nil {
		raw, _ = json.Marshal(body)
	}
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.s.base+path, rd)
	if err != nil {
		c.s.t.Fatal(err)
	}
	if raw != nil && !op.noJSONCT {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" && (c.http.Jar == nil || op.useBearer) {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range op.header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.s.t.Fatal(err)
	}
	r := &response{Response: resp, body: b}
	c.s.record(req, r)
	if issuesToken(req, r) {
		// A password change ends every session of the caller and answers
		// with a new one, which this client goes on with.
		var l struct {
			AccessToken string `json:"access_token"`
		}
		r.json(c.s.t, &l)
		c.token = l.AccessToken
	}
	return r
}

// record keeps the response for the secrets check and validates it
// against the OpenAPI document.
func (s *server) record(req *http.Request, r *response) {
	s.t.Helper()
	isLogin := issuesToken(req, r)
	s.mu.Lock()
	fmt.Fprintf(&s.responses, "%s %s -> %d\n", req.Method, req.URL.Path, r.StatusCode)
	for k, v := range r.Header {
		// The session cookie carries the caller's own token by design
		// (login, and refresh on extension).
		if k == "Set-Cookie" {
			continue
		}
		fmt.Fprintf(&s.responses, "%s: %s\n", k, strings.Join(v, ", "))
	}
	if !isLogin {
		s.responses.Write(r.body)
	}
	s.responses.WriteString("\n")
	s.mu.Unlock()

	if r.Header.Get("Server") != "" {
		s.t.Errorf("%s %s: Server header %q", req.Method, req.URL.Path, r.Header.Get("Server"))
	}
	if strings.HasPrefix(req.URL.Path, "/api/v1/") && r.Header.Get("Cache-Control") != "no-store" {
		s.t.Errorf("%s %s: Cache-Control %q, want no-store", req.Method, req.URL.Path, r.Header.Get("Cache-Control"))
	}
	if r.StatusCode >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
		s.t.Errorf("%s %s -> %d with Content-Type %q, want application/problem+json", req.Method, req.URL.Path, r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r.StatusCode >= 500 && r.StatusCode != http.StatusServiceUnavailable {
		s.t.Errorf("%s %s -> %d: %s", req.Method, req.URL.Path, r.StatusCode, r.body)
	}
	s.validate(req, r)
}

// issuesToken reports whether r is an answer that carries a new session
// token: a login, or an own password change.
func issuesToken(req *http.Request, r *response) bool {
	return r.StatusCode == http.StatusOK &&
		(req.URL.Path == "/api/v1/account/login" || req.URL.Path == "/api/v1/account/password" && req.Method == http.MethodPut)
}

// validate checks one response against the operation the document gives
// for its request. Unknown routes and methods have no operation; their
// problem bodies are checked by record.
func (s *server) validate(req *http.Request, r *response) {
	s.t.Helper()
	if err := s.validateErr(req, r); err != nil {
		s.t.Errorf("%s %s -> %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, r.StatusCode, err, r.body)
	}
}

func (s *server) validateErr(req *http.Request, r *response) error {
	route, params := s.findRoute(req)
	if route == nil {
		return nil
	}
	s.mu.Lock()
	s.validated++
	s.mu.Unlock()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
		},
		Status:  r.StatusCode,
		Header:  r.Header,
		Body:    io.NopCloser(bytes.NewReader(r.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

var templateParam = regexp.MustCompile(`\\\{([a-z_]+)\\\}`)

func (s *server) findRoute(req *http.Request) (*routers.Route, map[string]string) {
	for path, item := range s.doc.Paths.Map() {
		re := regexp.MustCompile("^" + templateParam.ReplaceAllString(regexp.QuoteMeta(path), `(?P<$1>[^/]+)`) + "$")
		m := re.FindStringSubmatch(req.URL.Path)
		if m == nil {
			continue
		}
		op := item.GetOperation(req.Method)
		if op == nil {
			return nil, nil
		}
		params := map[string]string{}
		for i, name := range re.SubexpNames() {
			if name != "" {
				params[name] = m[i]
			}
		}
		return &routers.Route{Spec: s.doc, Path: path, PathItem: item, Method: req.Method, Operation: op}, params
	}
	return nil, nil
}

// expect fails unless the response has the status (and, for errors, the
// problem code).
func expect(t *testing.T, r *response, status int, code ...string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	if len(code) > 0 {
		if p := r.problem(t); p.Code != code[0] {
			t.Fatalf("%s %s: code %q, want %q; body %s", r.Request.Method, r.Request.URL.Path, p.Code, code[0], r.body)
		}
	}
}

// signUp creates a user through the API and returns its id.
func (c *client) signUp(name, pw string) string {
	c.s.t.Helper()
	c.s.addSecret(pw)
	r := c.do("POST", "/api/v1/account/signup", map[string]string{"username": name, "password": pw})
	expect(c.s.t, r, http.StatusCreated)
	var v struct{ ID string }
	r.json(c.s.t, &v)
	return v.ID
}

// login logs the client in and keeps the token.
func (c *client) login(name, pw string) *response {
	c.s.t.Helper()
	c.s.addSecret(pw)
	r := c.do("POST", "/api/v1/account/login", map[string]string{"username": name, "password": pw})
	expect(c.s.t, r, http.StatusOK)
	var v struct {
		AccessToken string `json:"access_token"`
	}
	r.json(c.s.t, &v)
	c.token = v.AccessToken
	c.s.addToken(v.AccessToken)
	return r
}

// getMetrics fetches /metrics from the server's metrics listener.
func (s *server) getMetrics() *response {
	s.t.Helper()
	m := metricsAddrRe.FindStringSubmatch(s.stderr.String())
	if m == nil {
		s.t.Fatalf("no metrics listener logged:\n%s", s.stderr.String())
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return &response{Response: resp, body: b}
}

// createSuperAdmin runs `accounts users create-superadmin` against the
// server's database, with the password in the environment.
func (s *server) createSuperAdmin(name, pw string) {
	s.t.Helper()
	s.addSecret(pw)
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	env[superAdminPasswordEnv] = pw
	var out, errOut syncbuf.Buffer
	err := run(context.Background(), []string{"accounts", "users", "create-superadmin", "--username", name},
		func(k string) string { return env[k] }, s.clock.Now, &out, &errOut)
	if err != nil {
		s.t.Fatalf("create-superadmin: %v\n%s", err, errOut.String())
	}
}

// as returns a client logged in as a new user of the given role, created
// through the API by admin (a super admin client) or by sign-up.
func (s *server) as(admin *client, role, name string) (*client, string) {
	s.t.Helper()
	pw := "pw-" + randomHex(6)
	s.addSecret(pw)
	c := s.newClient(false)
	var id string
	switch role {
	case "super_admin":
		s.createSuperAdmin(name, pw)
	case "admin":
		r := admin.do("POST", "/api/v1/users", map[string]string{"username": name, "password": pw, "role": "admin"})
		expect(s.t, r, http.StatusCreated)
	default:
		id = c.signUp(name, pw)
	}
	c.login(name, pw)
	if id == "" {
		var u struct{ ID string }
		r := c.do("GET", "/api/v1/account", nil)
		expect(s.t, r, http.StatusOK)
		r.json(s.t, &u)
		id = u.ID
	}
	return c, id
}

// sql runs a statement on the server's database, behind the service's back.
func (s *server) sql(query string, args ...any) {
	s.t.Helper()
	s.sqlOn(s.dbURL, query, args...)
}

// sqlOn runs a statement on the database at dbURL.
func (s *server) sqlOn(dbURL, query string, args ...any) {
	s.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = c.Close(ctx) }()
	if _, err := c.Exec(ctx, query, args...); err != nil {
		s.t.Fatal(err)
	}
}

// queryInt runs a query that returns one integer.
func (s *server) queryInt(query string, args ...any) int {
	s.t.Helper()
	var n int
	s.queryRow(&n, query, args...)
	return n
}

// queryString runs a query that returns one string.
func (s *server) queryString(query string, args ...any) string {
	s.t.Helper()
	var v string
	s.queryRow(&v, query, args...)
	return v
}

// queryRow scans the one value query returns into dest, on a connection
// of its own so that it never waits for the server's pool.
func (s *server) queryRow(dest any, query string, args ...any) {
	s.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = c.Close(ctx) }()
	if err := c.QueryRow(ctx, query, args...).Scan(dest); err != nil {
		s.t.Fatal(err)
	}
}
