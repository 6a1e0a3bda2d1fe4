package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file attack the login throttle as issue 12 did: they
// must hold whatever the attacker's addresses, concurrency and input.

// throttleEnv is a server whose clients name their address in
// X-Forwarded-For (the test's loopback connections come from a trusted
// proxy), so one test plays many addresses.
func throttleEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"ACCOUNTS_HTTP_TRUSTED_PROXIES":             "127.0.0.1/32, ::1",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "5",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS":  "100",
		"ACCOUNTS_AUTH_LOGIN_THROTTLE_WINDOW":       "10m",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func from(addr string) opts {
	return opts{header: map[string]string{"X-Forwarded-For": addr}}
}

// guess sends one wrong password for name from addr.
func guess(c *client, name, addr string) *response {
	return c.do("POST", "/api/v1/account/login", map[string]string{"username": name, "password": "wrong-password"}, from(addr))
}

// TestOwnerOnTrustedDeviceNotLockedOut (finding 4): an attacker failing
// from many addresses exhausts the untrusted budget of the owner's name,
// yet the owner, on a device that logged in as the owner before (a browser
// with the device cookie, or a client that sends the device token
// header), logs in at once. An untrusted client with the right password
// waits: the budget is real.
func TestOwnerOnTrustedDeviceNotLockedOut(t *testing.T) {
	t.Parallel()
	s := startServer(t, throttleEnv(nil))
	browser := s.newClient(true)
	browser.signUp("owner1", "owner-password")
	browser.login("owner1", "owner-password")
	expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Content-Type": "application/json"}}), http.StatusNoContent)
	app := s.newClient(false)
	r := app.login("owner1", "owner-password")
	device := r.Header.Get("X-Device-Token")

	attacker := s.newClient(false)
	for i := range 30 {
		guess(attacker, "owner1", fmt.Sprintf("198.51.100.%d", i+1))
	}
	expect(t, guess(attacker, "owner1", "198.51.100.200"), http.StatusTooManyRequests, "too_many_attempts")

	for _, addr := range []string{"203.0.113.7", "198.51.100.1"} {
		browser.login("owner1", "owner-password")
		expect(t, browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Content-Type": "application/json"}}), http.StatusNoContent)
		r := s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "owner1", "password": "owner-password"},
			opts{header: map[string]string{"X-Forwarded-For": addr, "X-Device-Token": device}})
		expect(t, r, http.StatusOK)
		if next := r.Header.Get("X-Device-Token"); next != "" {
			device = next
		}
	}
	stranger := s.newClient(false)
	r = stranger.do("POST", "/api/v1/account/login", map[string]string{"username": "owner1", "password": "owner-password"}, from("192.0.2.1"))
	expect(t, r, http.StatusTooManyRequests, "too_many_attempts")
}

// TestParallelGuessesCappedAcrossAddresses (finding 5): 40 guesses at one
// name, all at once, each from its own address: no more than the budget
// are evaluated, because each reserves its attempt before hashing.
func TestParallelGuessesCappedAcrossAddresses(t *testing.T) {
	t.Parallel()
	s := startServer(t, throttleEnv(nil))
	s.newClient(false).signUp("target1", "target-password")
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
	)
	for i := range 40 {
		wg.Go(func() {
			r := guess(s.newClient(false), "target1", fmt.Sprintf("198.51.100.%d", i+1))
			mu.Lock()
			codes[r.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusUnauthorized] > 5 || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != 40 {
		t.Fatalf("answers %v: want at most 5 evaluated (401) and the rest 429", codes)
	}
}

// TestMalformedUsernamesTouchNoCounter (finding 6): a login with a name
// that cannot exist is refused before any counter or hash, so a flood of
// huge names holds no state; and the counters a flood of valid-looking
// unknown names from many addresses leaves are capped by
// auth.throttle_buckets per kind.
func TestMalformedUsernamesTouchNoCounter(t *testing.T) {
	t.Parallel()
	s := startServer(t, throttleEnv(map[string]string{
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "3",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS":  "3",
		"ACCOUNTS_AUTH_THROTTLE_BUCKETS":            "8",
	}))
	c := s.newClient(false)
	huge := strings.Repeat("a", 256<<10)
	for range 10 {
		r := c.do("POST", "/api/v1/account/login", map[string]string{"username": huge, "password": "wrong-password"}, from("198.51.100.1"))
		expect(t, r, http.StatusUnauthorized, "invalid_credentials")
	}
	if n := s.queryInt("SELECT count(*) FROM throttle_counters"); n != 0 {
		t.Fatalf("%d counters after logins with malformed names, want none", n)
	}
	for i := range 60 {
		guess(c, fmt.Sprintf("nobody%03d", i), fmt.Sprintf("203.0.113.%d", i+1))
	}
	// Unknown names have budgets too (TestThrottleSameForUnknownName), in
	// buckets of their own: four kinds of 8 buckets (failed logins and
	// verifications, of addresses and of names).
	if n := s.queryInt("SELECT count(*) FROM throttle_counters"); n < 1 || n > 32 {
		t.Fatalf("%d counters after 60 addresses and names, want between 1 and the 4 × 8 buckets", n)
	}
}

// TestWrongCurrentPasswordCountsAsFailedLogin (finding 7): a stolen
// session guessing current_password draws on a budget, since issue 29 its
// own (auth.password_failures_per_session), which strangers cannot spend.
func TestWrongCurrentPasswordCountsAsFailedLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, throttleEnv(map[string]string{"ACCOUNTS_AUTH_PASSWORD_FAILURES_PER_SESSION": "3"}))
	c := s.newClient(false)
	c.signUp("stolen1", "stolen-password")
	c.login("stolen1", "stolen-password")
	change := func(cur string) *response {
		return c.do("PUT", "/api/v1/account/password", map[string]string{"current_password": cur, "new_password": "next-password-1"}, from("198.51.100.9"))
	}
	for range 3 {
		expect(t, change("guess-password"), http.StatusForbidden, "wrong_password")
	}
	expect(t, change("guess-password"), http.StatusTooManyRequests, "too_many_attempts")
	expect(t, change("stolen-password"), http.StatusTooManyRequests, "too_many_attempts")
}

// TestSignUpsPerAddressLimited (finding 11): sign-ups are limited per
// client address, the answer for a taken name (in any case) staying 409
// username_taken until then; other addresses are not held back.
func TestSignUpsPerAddressLimited(t *testing.T) {
	t.Parallel()
	s := startServer(t, throttleEnv(map[string]string{"ACCOUNTS_AUTH_SIGNUPS_PER_ADDRESS": "3"}))
	c := s.newClient(false)
	s.addSecret("signup-password")
	signUp := func(name, addr string) *response {
		return c.do("POST", "/api/v1/account/signup", map[string]string{"username": name, "password": "signup-password"}, from(addr))
	}
	expect(t, signUp("taken1", "198.51.100.1"), http.StatusCreated)
	expect(t, signUp("TAKEN1", "198.51.100.1"), http.StatusConflict, "username_taken")
	expect(t, signUp("Taken1", "198.51.100.1"), http.StatusConflict, "username_taken")
	expect(t, signUp("tAkEn1", "198.51.100.1"), http.StatusTooManyRequests, "too_many_attempts")
	expect(t, signUp("fresh1", "198.51.100.1"), http.StatusTooManyRequests, "too_many_attempts")
	expect(t, signUp("TAKEN1", "198.51.100.2"), http.StatusConflict, "username_taken")
}

// TestLoginBudgetSharedByThreeReplicas: three `serve` processes on one
// database draw on one budget per username, not one each.
func TestLoginBudgetSharedByThreeReplicas(t *testing.T) {
	directOnly(t)
	t.Parallel()
	accountsBinary(t)
	one := startServer(t, nil)
	one.newClient(false).signUp("shared1", "shared-password")
	env := procEnv(one.dbURL, one.env["ACCOUNTS_PASSWORD_PEPPER"], map[string]string{
		"ACCOUNTS_METRICS_ENABLED":                  "false",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "6",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS":  "0",
	})
	addrRe := regexp.MustCompile(`"msg":"listening".*"addr":"([^"]+)"`)
	var replicas []*server
	for range 3 {
		p := startProc(t, env, "serve", "--addr", "127.0.0.1:0")
		r := &server{t: t, env: env, stderr: p.stderr, dbURL: one.dbURL, doc: one.doc}
		deadline := time.Now().Add(60 * time.Second)
		for r.base == "" {
			if m := addrRe.FindStringSubmatch(p.stderr.String()); m != nil {
				r.base = "http://" + m[1]
				break
			}
			select {
			case <-p.done:
				t.Fatalf("replica exited: %v\n%s", p.err, p.stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica did not listen within 60s:\n%s", p.stderr.String())
			}
		}
		replicas = append(replicas, r)
	}
	evaluated := 0
	for i := range 30 {
		r := guess(replicas[i%3].newClient(false), "shared1", "")
		switch r.StatusCode {
		case http.StatusUnauthorized:
			evaluated++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("guess %d: %d %s", i, r.StatusCode, r.body)
		}
	}
	if evaluated > 6 {
		t.Fatalf("%d of 30 guesses across three replicas were evaluated, want at most the one budget of 6", evaluated)
	}
}

// TestThrottleSameForUnknownName (issue 22, finding 3): the throttle
// answers alike for a name that exists and one that does not, from one
// address or from many, so the 401/429 sequence is no username oracle.
func TestThrottleSameForUnknownName(t *testing.T) {
	t.Parallel()
	s := startServer(t, throttleEnv(nil))
	s.newClient(false).signUp("exists1", "exists-password")
	s.newClient(false).signUp("exists2", "exists-password")
	sequence := func(name string, addr func(i int) string) string {
		var seq []string
		for i := range 12 {
			seq = append(seq, fmt.Sprint(guess(s.newClient(false), name, addr(i)).StatusCode))
		}
		return strings.Join(seq, " ")
	}
	for _, c := range []struct {
		what     string
		existing string
		unknown  string
		addr     func(i int) string
	}{
		{"one address", "exists1", "unknown1", func(int) string { return "198.51.100.1" }},
		{"many addresses", "exists2", "unknown2", func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }},
	} {
		existing, unknown := sequence(c.existing, c.addr), sequence(c.unknown, c.addr)
		if existing != unknown {
			t.Errorf("from %s: an existing name answers %s, an unknown one %s", c.what, existing, unknown)
		}
	}
}

// TestStrangersCannotBlockPasswordChange (issue 29, finding 1): ten wrong
// logins for a signed-in user's name, from anywhere, leave the user's own
// password change alone; the user logs in with the new password at once
// from a device that logged in before.
func TestStrangersCannotBlockPasswordChange(t *testing.T) {
	t.Parallel()
	s := startServer(t, throttleEnv(nil))
	c := s.newClient(false)
	c.signUp("victim7", "victim-password")
	c.login("victim7", "victim-password")
	attacker := s.newClient(false)
	for i := range 10 {
		guess(attacker, "victim7", fmt.Sprintf("198.51.100.%d", i+1))
	}
	r := c.do("PUT", "/api/v1/account/password", map[string]string{"current_password": "victim-password", "new_password": "victim-password-2"}, from("198.51.100.1"))
	expect(t, r, http.StatusOK)
}

// TestUnthrottleLetsTheOwnerIn (issue 29, finding 1): after strangers
// spent a user's login budget, `users unthrottle` gives it back, says so
// and leaves an audit row; the owner logs in from anywhere at once (the
// server remembers a spent budget for a second at most).
func TestUnthrottleLetsTheOwnerIn(t *testing.T) {
	t.Parallel()
	s := startServer(t, throttleEnv(nil))
	s.newClient(false).signUp("owner9", "owner-password")
	attacker := s.newClient(false)
	for i := range 6 {
		guess(attacker, "owner9", fmt.Sprintf("198.51.100.%d", i+1))
	}
	login := func() *response {
		return s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "owner9", "password": "owner-password"}, from("203.0.113.9"))
	}
	expect(t, login(), http.StatusTooManyRequests, "too_many_attempts")
	c := breakGlassCLI{t: t, env: s.env}
	if out := c.must("", "unthrottle", "--username", "OWNER9"); !strings.Contains(out, "cleared the login budgets of owner9") {
		t.Fatalf("unthrottle printed:\n%s", out)
	}
	if out := c.must("", "unthrottle", "--username", "owner9"); !strings.Contains(out, "nothing changed") {
		t.Fatalf("a second unthrottle printed:\n%s", out)
	}
	s.clock.Advance(time.Second)
	expect(t, login(), http.StatusOK)
	if n := s.queryInt("SELECT count(*) FROM audit_events WHERE action = 'user.unthrottled' AND actor_name LIKE 'cli:%'"); n != 1 {
		t.Fatalf("%d audit rows of unthrottle, want 1 (the second changed nothing)", n)
	}
}
