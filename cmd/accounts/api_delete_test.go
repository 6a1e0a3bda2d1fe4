package main

import (
	"maps"
	"net/http"
	"strings"
	"testing"
)

// TestDeleteUserIsSoft checks DELETE /users/{id}: the user is deactivated,
// their sessions end, they leave the default listing and show with
// is_active=false, the name stays reserved, and the role hierarchy holds.
func TestDeleteUserIsSoft(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	admin, adminID := s.as(root, "admin", "admin1")
	user, userID := s.as(nil, "user", "carol.d")

	expect(t, admin.do("DELETE", "/api/v1/users/"+adminID, nil), http.StatusForbidden, "forbidden")
	expect(t, user.do("DELETE", "/api/v1/users/"+adminID, nil), http.StatusForbidden, "forbidden")
	expect(t, admin.do("DELETE", "/api/v1/users/0192d4e0-7c1a-7b3e-9f00-123456789abc", nil), http.StatusNotFound, "user_not_found")

	expect(t, admin.do("DELETE", "/api/v1/users/"+userID, nil), http.StatusNoContent)
	expect(t, user.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
	if u := getUser(t, admin, userID); u.IsActive {
		t.Fatalf("deleted user still active: %+v", u)
	}
	gone := getUser(t, admin, userID)
	expect(t, admin.do("DELETE", "/api/v1/users/"+userID, nil), http.StatusNoContent)
	if again := getUser(t, admin, userID); !again.UpdatedAt.Equal(gone.UpdatedAt) {
		t.Fatal("a second delete wrote")
	}

	var l userListJSON
	r := admin.do("GET", "/api/v1/users", nil)
	expect(t, r, http.StatusOK)
	r.json(t, &l)
	if strings.Contains(names(l), "carol.d") {
		t.Fatalf("the default listing shows the deleted user: %s", names(l))
	}
	r = admin.do("GET", "/api/v1/users?is_active=false", nil)
	expect(t, r, http.StatusOK)
	r.json(t, &l)
	if names(l) != "carol.d" {
		t.Fatalf("is_active=false lists %q", names(l))
	}
	expect(t, s.newClient(false).do("POST", "/api/v1/account/signup", map[string]string{"username": "Carol.D", "password": "another-password"}), http.StatusConflict, "username_taken")
	expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "carol.d", "password": "wrong-password"}), http.StatusUnauthorized, "invalid_credentials")
	if n := s.queryInt(`SELECT count(*) FROM audit_events WHERE action = 'user.deactivated' AND target_id = $1`, userID); n != 1 {
		t.Fatalf("%d deactivation entries, want 1", n)
	}
}

// TestEraseUser checks `accounts users erase`: it refuses an active user,
// removes a deactivated one with its sessions, frees the name, and records
// an audit entry without the name.
func TestEraseUser(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	_, userID := s.as(nil, "user", "dave.e")
	c := breakGlassCLI{t: t, env: maps.Clone(s.env)}

	if out, err := c.run("", "erase", "--username", "dave.e"); err == nil || !strings.Contains(err.Error(), "deactivate it first") {
		t.Fatalf("erase of an active user: %v\n%s", err, out)
	}
	expect(t, root.do("DELETE", "/api/v1/users/"+userID, nil), http.StatusNoContent)
	out := c.must("", "erase", "--username", "DAVE.E")
	if !strings.Contains(out, "erased dave.e (id "+userID+")") {
		t.Fatalf("erase printed:\n%s", out)
	}
	expect(t, root.do("GET", "/api/v1/users/"+userID, nil), http.StatusNotFound, "user_not_found")
	if n := s.queryInt(`SELECT count(*) FROM users WHERE id = $1`, userID); n != 0 {
		t.Fatalf("%d rows left", n)
	}
	if out, err := c.run("", "erase", "--username", "dave.e"); err == nil || !strings.Contains(err.Error(), "no user is named") {
		t.Fatalf("second erase: %v\n%s", err, out)
	}
	if n := s.queryInt(`SELECT count(*) FROM audit_events WHERE action = 'user.erased' AND target_id = $1 AND target_name = '' AND actor_id IS NULL`, userID); n != 1 {
		t.Fatalf("%d erase entries without a name, want 1", n)
	}
	if n := s.queryInt(`SELECT count(*) FROM audit_events WHERE action = 'user.erased' AND (details::text ILIKE '%dave%' OR actor_name ILIKE '%dave%')`); n != 0 {
		t.Fatal("the erase entry holds the name")
	}
	s.newClient(false).signUp("dave.e", "dave-password-2")
}
