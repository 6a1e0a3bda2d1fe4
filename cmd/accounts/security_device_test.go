package main

import (
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"
)

// The tests in this file attack device trust as issue 22 did: a device
// token must be worth one user's one budget, and no more than the
// credential it was issued under.

// deviceEnv is throttleEnv with the small budgets of issue 22's attack.
func deviceEnv() map[string]string {
	return throttleEnv(map[string]string{
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME": "5",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS":  "3",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_DEVICE":   "5",
	})
}

// collectDevices logs in as name n times, each from its own client, and
// returns the n device tokens the logins handed out.
func collectDevices(t *testing.T, s *server, name, pw string, n int) []string {
	t.Helper()
	var tokens []string
	for i := range n {
		r := s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": name, "password": pw},
			from(fmt.Sprintf("192.0.2.%d", i+1)))
		expect(t, r, http.StatusOK)
		tok := r.Header.Get("X-Device-Token")
		if tok == "" {
			t.Fatal("a login handed out no device token")
		}
		tokens = append(tokens, tok)
	}
	return tokens
}

// guessWithDevices sends n wrong passwords for name, each presenting the
// next of tokens and from an address of its own, and returns how many
// were evaluated (401) rather than throttled (429).
func guessWithDevices(t *testing.T, s *server, name string, tokens []string, n int) int {
	t.Helper()
	evaluated := 0
	for i := range n {
		r := s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": name, "password": "wrong-password"},
			opts{header: map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1), "X-Device-Token": tokens[i%len(tokens)]}})
		switch r.StatusCode {
		case http.StatusUnauthorized:
			evaluated++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("guess %d: %d %s", i, r.StatusCode, r.body)
		}
	}
	return evaluated
}

// usersCLI runs `accounts users ARGS` against s's database, with stdin.
func usersCLI(t *testing.T, s *server, stdin string, args ...string) {
	t.Helper()
	out, err := runWithStdin(maps.Clone(s.env), stdin, append([]string{"users"}, args...)...)
	if err != nil {
		t.Fatalf("users %v: %v\n%s", args, err, out)
	}
}

// TestDeviceTokensShareOneBudget (issue 22, finding 1): ten device tokens
// of one user, from ten earlier logins, buy no more wrong guesses than
// one: a user's trusted devices draw on one budget.
func TestDeviceTokensShareOneBudget(t *testing.T) {
	t.Parallel()
	s := startServer(t, deviceEnv())
	s.newClient(false).signUp("devices1", "devices-password")
	tokens := collectDevices(t, s, "devices1", "devices-password", 10)
	n := guessWithDevices(t, s, "devices1", tokens, 60)
	t.Logf("%d of 60 wrong guesses with 10 device tokens were evaluated", n)
	if n > 5 {
		t.Fatalf("%d of 60 wrong guesses with 10 device tokens were evaluated, want at most the one device budget of 5", n)
	}
}

// TestDeviceTokensEndWithReset (issue 22, finding 1): tokens collected by
// someone who knew the password are untrusted once the owner's password
// is reset: guesses with all of them draw on the untrusted budget of the
// name, one budget in all.
func TestDeviceTokensEndWithReset(t *testing.T) {
	t.Parallel()
	s := startServer(t, deviceEnv())
	s.newClient(false).signUp("devices2", "devices-password")
	tokens := collectDevices(t, s, "devices2", "devices-password", 10)
	s.addSecret("devices-password-2")
	usersCLI(t, s, "devices-password-2\n", "set-password", "--username", "devices2")
	n := guessWithDevices(t, s, "devices2", tokens, 60)
	t.Logf("%d of 60 wrong guesses with 10 tokens from before the reset were evaluated", n)
	if n > 5 {
		t.Fatalf("%d of 60 wrong guesses with 10 tokens from before the reset were evaluated, want at most one budget of 5", n)
	}
}

// TestDeviceTrustEnds (issue 22, finding 1): a device token is trusted no
// longer after a deactivation and activation, a revoke-sessions, or its
// lifetime: with the name's untrusted budget spent, its correct password
// is throttled like any stranger's.
func TestDeviceTrustEnds(t *testing.T) {
	t.Parallel()
	s := startServer(t, deviceEnv())
	for i, end := range []struct {
		name string
		do   func(user string)
	}{
		{"deactivate and activate", func(user string) {
			usersCLI(t, s, "", "deactivate", "--username", user)
			usersCLI(t, s, "", "activate", "--username", user)
		}},
		{"revoke-sessions", func(user string) { usersCLI(t, s, "", "revoke-sessions", "--username", user) }},
		{"lifetime", func(string) { s.clock.Advance(31 * 24 * time.Hour) }},
	} {
		user := fmt.Sprintf("trusted%d", i+1)
		s.newClient(false).signUp(user, "trusted-password")
		token := collectDevices(t, s, user, "trusted-password", 1)[0]
		end.do(user)
		for j := range 5 {
			guess(s.newClient(false), user, fmt.Sprintf("203.0.113.%d", 10*i+j+1))
		}
		r := s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": user, "password": "trusted-password"},
			opts{header: map[string]string{"X-Forwarded-For": "203.0.113.200", "X-Device-Token": token}})
		if r.StatusCode != http.StatusTooManyRequests {
			t.Errorf("after %s the old device token still bypasses the spent budget: %d %s", end.name, r.StatusCode, r.body)
		}
	}
}

// TestOwnPasswordChangeKeepsTheDevice: the device that changes its own
// password gets a device token of the new credential version, so the
// owner stays trusted there while every token of before is not.
func TestOwnPasswordChangeKeepsTheDevice(t *testing.T) {
	t.Parallel()
	s := startServer(t, deviceEnv())
	c := s.newClient(false)
	c.signUp("changer1", "changer-password")
	before := c.login("changer1", "changer-password").Header.Get("X-Device-Token")
	s.addSecret("changer-password-2")
	r := c.do("PUT", "/api/v1/account/password", map[string]string{"current_password": "changer-password", "new_password": "changer-password-2"})
	expect(t, r, http.StatusOK)
	after := r.Header.Get("X-Device-Token")
	if after == "" || after == before {
		t.Fatalf("the password change handed out no new device token (%q)", after)
	}
	for j := range 5 {
		guess(s.newClient(false), "changer1", fmt.Sprintf("203.0.113.%d", j+1))
	}
	login := func(token string) *response {
		return s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "changer1", "password": "changer-password-2"},
			opts{header: map[string]string{"X-Forwarded-For": "203.0.113.200", "X-Device-Token": token}})
	}
	expect(t, login(before), http.StatusTooManyRequests, "too_many_attempts")
	expect(t, login(after), http.StatusOK)
}
