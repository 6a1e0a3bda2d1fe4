package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// TestBreakGlassOnSuperAdmin runs each break-glass command on a super
// admin, against a running server: a reset that logs the old sessions out
// and lets the new password in, a deactivation, a revocation of sessions
// and a demotion, with the last-super-admin guard, and an audit row with
// the operator for each.
func TestBreakGlassOnSuperAdmin(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	env := maps.Clone(s.env)
	s.createSuperAdmin("root1", "root-password-1")
	root := s.newClient(false)
	root.login("root1", "root-password-1")
	c := breakGlassCLI{t: t, env: env}

	breakGlassSetPassword(t, s, root, c)
	breakGlassGuard(t, s, root, c)
	breakGlassRevokeAndDemote(t, s, root, c)
	breakGlassList(t, c)
	breakGlassAudited(t, s)
}

// breakGlassSetPassword checks users set-password: the old session ends, the new password works, the old not.
func breakGlassSetPassword(t *testing.T, s *server, root *client, c breakGlassCLI) {
	t.Helper()
	// Reset: the old session ends, the new password works, the old not.
	s.addSecret("root-password-2")
	out := c.must("root-password-2\n", "set-password", "--username", "ROOT1")
	if !strings.Contains(out, "set the password of root1") || !strings.Contains(out, "sessions ended: 1") {
		t.Fatalf("set-password printed:\n%s", out)
	}
	expect(t, root.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "root1", "password": "root-password-1"}), http.StatusUnauthorized, "invalid_credentials")
	root.login("root1", "root-password-2")
	if out, err := c.run("short\n", "set-password", "--username", "root1"); err == nil || !strings.Contains(err.Error(), "password must be at least 8 characters") {
		t.Fatalf("short password: %v\n%s", err, out)
	}
}

// breakGlassGuard checks the last-super-admin guard of deactivate, and --force.
func breakGlassGuard(t *testing.T, s *server, root *client, c breakGlassCLI) {
	t.Helper()
	// The guard: root1 is the only active super admin.
	for _, args := range [][]string{{"deactivate", "--username", "root1"}, {"set-role", "--username", "root1", "admin"}} {
		if out, err := c.run("", args...); err == nil || !strings.Contains(err.Error(), "last active super admin") || !strings.Contains(err.Error(), "--force") {
			t.Fatalf("%v on the last super admin: %v\n%s", args, err, out)
		}
	}
	expect(t, root.do("GET", "/api/v1/account", nil), http.StatusOK)

	// With a second super admin the guard lets root1 go.
	s.createSuperAdmin("root2", "root-password-3")
	out := c.must("", "deactivate", "--username", "root1")
	if !strings.Contains(out, "state: active -> inactive") || !strings.Contains(out, "sessions ended: 1") {
		t.Fatalf("deactivate printed:\n%s", out)
	}
	expect(t, root.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "root1", "password": "root-password-2"}), http.StatusUnauthorized, "invalid_credentials")
	if out := c.must("", "deactivate", "--username", "root1"); !strings.Contains(out, "nothing changed") {
		t.Fatalf("second deactivate printed:\n%s", out)
	}
	// Now root2 is the last one: --force overrides the guard.
	if _, err := c.run("", "deactivate", "--username", "root2"); err == nil {
		t.Fatal("deactivated the last active super admin without --force")
	}
	c.must("", "activate", "--username", "root1")
	root.login("root1", "root-password-2")
}

// breakGlassRevokeAndDemote checks revoke-sessions and set-role, the guard included.
func breakGlassRevokeAndDemote(t *testing.T, s *server, root *client, c breakGlassCLI) {
	t.Helper()
	// Revoke sessions: every session of the user ends.
	other := s.newClient(false)
	other.login("root1", "root-password-2")
	out := c.must("", "revoke-sessions", "--username", "root1")
	if !strings.Contains(out, "sessions ended: 2") {
		t.Fatalf("revoke-sessions printed:\n%s", out)
	}
	expect(t, root.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	expect(t, other.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")

	// Demote: root1 becomes an admin, and its next request acts as one.
	root.login("root1", "root-password-2")
	out = c.must("", "set-role", "--username", "root1", "admin")
	if !strings.Contains(out, "role: super_admin -> admin") {
		t.Fatalf("set-role printed:\n%s", out)
	}
	var acct struct{ Role string }
	r := root.do("GET", "/api/v1/account", nil)
	expect(t, r, http.StatusOK)
	r.json(t, &acct)
	if acct.Role != "admin" {
		t.Fatalf("role after the demotion: %q", acct.Role)
	}
	// root2 is the last super admin again; --force demotes it.
	if _, err := c.run("", "set-role", "--username", "root2", "user"); err == nil {
		t.Fatal("demoted the last active super admin without --force")
	}
	c.must("", "set-role", "--username", "root2", "user", "--force")
	if n := s.queryInt(`SELECT count(*) FROM users WHERE role = 'SUPER_ADMIN' AND is_active`); n != 0 {
		t.Fatalf("%d active super admins after the forced demotion", n)
	}
}

// breakGlassList checks users list and its filters, and an unknown user.
func breakGlassList(t *testing.T, c breakGlassCLI) {
	t.Helper()
	// The listing, with its filters.
	var listed []struct {
		Username string `json:"username"`
		Role     string `json:"role"`
		IsActive bool   `json:"is_active"`
	}
	if err := json.Unmarshal([]byte(c.must("", "list", "--json", "--role", "admin")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Username != "root1" || !listed[0].IsActive {
		t.Fatalf("list --role admin: %+v", listed)
	}
	if out := c.must("", "list"); !strings.Contains(out, "USERNAME") || !strings.Contains(out, "root2") {
		t.Fatalf("list printed:\n%s", out)
	}
	if out := c.must("", "list", "--inactive"); strings.Contains(out, "root") {
		t.Fatalf("list --inactive shows active users:\n%s", out)
	}
	if _, err := c.run("", "list", "--role", "owner"); err == nil {
		t.Fatal("list --role owner accepted")
	}
	if _, err := c.run("", "revoke-sessions", "--username", "nobody1"); err == nil || !strings.Contains(err.Error(), "no user is named") {
		t.Fatalf("unknown user: %v", err)
	}
}

// breakGlassAudited checks that every change has its audit row, with the operator as the actor.
func breakGlassAudited(t *testing.T, s *server) {
	t.Helper()
	// Every change has its row, with the operator as the actor.
	got := s.queryString(`SELECT string_agg(action, ' ' ORDER BY occurred_at, id) FROM audit_events WHERE actor_id IS NULL AND actor_name LIKE 'cli:%@%'`)
	want := "user.created user.password_set user.created user.deactivated user.activated user.sessions_revoked user.role_revoked user.role_revoked"
	if got != want {
		t.Fatalf("operator audit rows:\n got %s\nwant %s", got, want)
	}
	s.checkSecrets()
}

// breakGlassCLI runs `accounts users` commands with the server's environment.
type breakGlassCLI struct {
	t   *testing.T
	env map[string]string
}

func (c breakGlassCLI) run(stdin string, args ...string) (string, error) {
	c.t.Helper()
	return runWithStdin(c.env, stdin, append([]string{"users"}, args...)...)
}

// must runs the command and fails the test when it fails.
func (c breakGlassCLI) must(stdin string, args ...string) string {
	c.t.Helper()
	out, err := c.run(stdin, args...)
	if err != nil {
		c.t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return out
}

// TestAuditListCommand reads the trail from the command line with its
// filters, and refuses a bad one with what to fix.
func TestAuditListCommand(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	env := maps.Clone(s.env)
	s.createSuperAdmin("root1", "root-password-1")
	s.newClient(false).login("root1", "root-password-1")
	if out, err := runWithStdin(env, "", "users", "revoke-sessions", "--username", "root1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := runWithStdin(env, "", "audit", "list", "--target", "ROOT1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"user.sessions_revoked", "user.logged_in", "user.created", "sessions_ended=1", "role=super_admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit list lacks %q:\n%s", want, out)
		}
	}
	var page struct {
		Events []struct {
			Action    string `json:"action"`
			ActorName string `json:"actor_name"`
			RequestID string `json:"request_id"`
			Client    string `json:"client_address"`
		} `json:"events"`
		NextCursor string `json:"next_cursor"`
	}
	out, err = runWithStdin(env, "", "audit", "list", "--action", "user.logged_in", "--json", "--limit", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(page.Events) != 1 || page.Events[0].ActorName != "root1" || page.Events[0].RequestID == "" || page.Events[0].Client != "127.0.0.1" || page.NextCursor != "" {
		t.Fatalf("login event: %+v", page)
	}
	for args, want := range map[string]string{
		"--action=user.exploded": "action must be one of the audit actions",
		"--since=yesterday":      "--since must be an RFC 3339 time",
		"--target=nobody1":       `no user is named "nobody1"`,
	} {
		if _, err := runWithStdin(env, "", "audit", "list", args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}
