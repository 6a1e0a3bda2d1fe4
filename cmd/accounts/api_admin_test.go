package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type userJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func getUser(t *testing.T, c *client, id string) userJSON {
	t.Helper()
	r := c.do("GET", "/api/v1/users/"+id, nil)
	expect(t, r, 200)
	var u userJSON
	r.json(t, &u)
	return u
}

// TestAdminEndpoints walks the admin rows of the endpoint table with their
// errors, and the idempotency of grant, revoke, activate and deactivate.
func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, rootID := s.as(nil, "super_admin", "root1")
	admin, adminID := s.as(root, "admin", "admin1")
	user, userID := s.as(nil, "user", "user1")

	adminCreates(t, root, admin, user)
	adminReads(t, s, admin, user, rootID, userID)
	adminChangesRoles(t, root, admin, adminID, userID)
	adminDeactivates(t, s, admin, user, userID)
	adminSetsPassword(t, s, admin, user, rootID, adminID, userID)
}

// adminCreates checks POST /users: who may create whom, and its errors.
func adminCreates(t *testing.T, root, admin, user *client) {
	t.Helper()
	// POST /users
	expect(t, admin.do("POST", "/api/v1/users", map[string]string{"username": "admin2", "password": "admin-password", "role": "admin"}), 403, "forbidden")
	expect(t, root.do("POST", "/api/v1/users", map[string]string{"username": "root2", "password": "root-password", "role": "super_admin"}), 422, "validation_failed")
	expect(t, root.do("POST", "/api/v1/users", map[string]string{"username": "root2", "password": "root-password", "role": "emperor"}), 422, "validation_failed")
	expect(t, user.do("POST", "/api/v1/users", map[string]string{"username": "user9", "password": "user-password"}), 403, "forbidden")
	expect(t, admin.do("POST", "/api/v1/users", map[string]string{"username": "USER1", "password": "user-password"}), 409, "username_taken")
	expect(t, admin.do("POST", "/api/v1/users", map[string]string{"username": "u", "password": "p"}), 422, "validation_failed")
	expect(t, admin.do("POST", "/api/v1/users", nil, opts{rawBody: []byte(`{"username":"user2","password":"user-password","role":1}`)}), 400, "invalid_json")
	r := admin.do("POST", "/api/v1/users", map[string]string{"username": "user2", "password": "user-password"})
	expect(t, r, 201)
	var created struct{ ID string }
	r.json(t, &created)
	if u := getUser(t, admin, created.ID); u.Role != "user" || !u.IsActive {
		t.Fatalf("created %+v, want an active user", u)
	}
}

// adminReads checks GET /users/{id}: unknown and malformed ids, and who may read.
func adminReads(t *testing.T, s *server, admin, user *client, rootID, userID string) {
	t.Helper()
	// GET /users/{id}
	expect(t, admin.do("GET", "/api/v1/users/0192d4e0-7c1a-7b3e-9f00-123456789abc", nil), 404, "user_not_found")
	for _, bad := range []string{"nope", "0192d4e0-7c1a-7b3e-9f00-123456789ab", "{0192d4e0-7c1a-7b3e-9f00-123456789abc}", "urn:uuid:0192d4e0-7c1a-7b3e-9f00-123456789abc", "0192d4e07c1a7b3e9f00123456789abc", "%27%20OR%201=1--"} {
		r := admin.do("GET", "/api/v1/users/"+bad, nil)
		expect(t, r, 422, "validation_failed")
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "id" {
			t.Fatalf("malformed id %q: %s", bad, r.body)
		}
	}
	// A malformed id is rejected before the session is even looked up.
	expect(t, s.newClient(false).do("GET", "/api/v1/users/nope", nil), 422, "validation_failed")
	expect(t, user.do("GET", "/api/v1/users/"+userID, nil), 403, "forbidden")
	if u := getUser(t, admin, rootID); u.Role != "super_admin" {
		t.Fatalf("root is %+v", u)
	}
}

// adminChangesRoles checks that no-op changes write nothing, then grant and revoke.
func adminChangesRoles(t *testing.T, root, admin *client, adminID, userID string) {
	t.Helper()
	// Idempotency: no-op changes answer 204 and write nothing.
	before := getUser(t, root, userID)
	for _, step := range []struct{ method, path string }{
		{"PUT", "/activation"}, {"DELETE", "/roles/admin"},
	} {
		expect(t, root.do(step.method, "/api/v1/users/"+userID+step.path, nil), 204)
	}
	expect(t, root.do("PUT", "/api/v1/users/"+adminID+"/roles/admin", nil), 204)
	if after := getUser(t, root, userID); !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("no-op changes moved updated_at from %s to %s", before.UpdatedAt, after.UpdatedAt)
	}
	if after := getUser(t, root, adminID); after.Role != "admin" {
		t.Fatalf("admin1 is %s", after.Role)
	}

	// Grant and revoke.
	expect(t, admin.do("PUT", "/api/v1/users/"+userID+"/roles/admin", nil), 403, "forbidden")
	expect(t, root.do("PUT", "/api/v1/users/"+userID+"/roles/admin", nil), 204)
	granted := getUser(t, root, userID)
	if granted.Role != "admin" || !granted.UpdatedAt.After(before.UpdatedAt) {
		t.Fatalf("after grant %+v", granted)
	}
	expect(t, root.do("PUT", "/api/v1/users/"+userID+"/roles/admin", nil), 204)
	if again := getUser(t, root, userID); !again.UpdatedAt.Equal(granted.UpdatedAt) {
		t.Fatal("a second grant wrote")
	}
	expect(t, root.do("DELETE", "/api/v1/users/"+userID+"/roles/admin", nil), 204)
	if u := getUser(t, root, userID); u.Role != "user" {
		t.Fatalf("after revoke %+v", u)
	}
	expect(t, root.do("PUT", "/api/v1/users/0192d4e0-7c1a-7b3e-9f00-123456789abc/roles/admin", nil), 404, "user_not_found")
}

// adminDeactivates checks deactivation and activation.
func adminDeactivates(t *testing.T, s *server, admin, user *client, userID string) {
	t.Helper()
	// Deactivate: the user's sessions end; the user stays listed; a second
	// deactivation writes nothing.
	expect(t, admin.do("DELETE", "/api/v1/users/"+userID+"/activation", nil), 204)
	expect(t, user.do("GET", "/api/v1/account", nil), 401, "unauthenticated")
	off := getUser(t, admin, userID)
	if off.IsActive {
		t.Fatal("still active")
	}
	expect(t, admin.do("DELETE", "/api/v1/users/"+userID+"/activation", nil), 204)
	if again := getUser(t, admin, userID); !again.UpdatedAt.Equal(off.UpdatedAt) {
		t.Fatal("a second deactivation wrote")
	}
	expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "user1", "password": "wrong-password"}), 401, "invalid_credentials")
	expect(t, admin.do("PUT", "/api/v1/users/"+userID+"/activation", nil), 204)
	expect(t, admin.do("PUT", "/api/v1/users/0192d4e0-7c1a-7b3e-9f00-123456789abc/activation", nil), 404, "user_not_found")
}

// adminSetsPassword checks PUT /users/{id}/password.
func adminSetsPassword(t *testing.T, s *server, admin, user *client, rootID, adminID, userID string) {
	t.Helper()
	// PUT /users/{id}/password: the target's sessions end, the new
	// password works.
	pw1, pw2 := "pw-"+randomHex(6), "pw-"+randomHex(6)
	s.addSecret(pw1)
	s.addSecret(pw2)
	expect(t, admin.do("PUT", "/api/v1/users/"+userID+"/password", map[string]string{"password": pw1}), 204)
	again := s.newClient(false)
	again.login("user1", pw1)
	expect(t, admin.do("PUT", "/api/v1/users/"+userID+"/password", map[string]string{"password": "short"}), 422, "validation_failed")
	expect(t, admin.do("PUT", "/api/v1/users/"+userID+"/password", nil, opts{rawBody: []byte(`{"pasword":"x"}`)}), 400, "invalid_json")
	expect(t, admin.do("PUT", "/api/v1/users/"+userID+"/password", map[string]string{"password": pw2}), 204)
	expect(t, again.do("GET", "/api/v1/account", nil), 401, "unauthenticated")
	expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "user1", "password": pw1}), 401, "invalid_credentials")
	s.newClient(false).login("user1", pw2)
	expect(t, admin.do("PUT", "/api/v1/users/"+rootID+"/password", map[string]string{"password": pw2}), 403, "forbidden")
	expect(t, admin.do("PUT", "/api/v1/users/"+adminID+"/password", map[string]string{"password": pw2}), 403, "forbidden")
	expect(t, admin.do("PUT", "/api/v1/users/0192d4e0-7c1a-7b3e-9f00-123456789abc/password", map[string]string{"password": pw2}), 404, "user_not_found")
	expect(t, user.do("PUT", "/api/v1/users/"+adminID+"/password", map[string]string{"password": pw2}), 401, "unauthenticated")
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	admin, _ := s.as(root, "admin", "admin1")
	user, _ := s.as(nil, "user", "user1")
	for i := range 12 {
		r := root.do("POST", "/api/v1/users", map[string]string{"username": fmt.Sprintf("member%02d", 12-i), "password": "member-password"})
		expect(t, r, 201)
		if i%4 == 0 {
			var c struct{ ID string }
			r.json(t, &c)
			expect(t, root.do("DELETE", "/api/v1/users/"+c.ID+"/activation", nil), 204)
		}
	}
	list := func(c *client, query string) (userListJSON, *response) {
		t.Helper()
		r := c.do("GET", "/api/v1/users?"+query, nil)
		var l userListJSON
		if r.StatusCode == 200 {
			r.json(t, &l)
		}
		return l, r
	}
	// The default listing is of active users: 15 less the 3 deactivated.
	l, r := list(admin, "")
	expect(t, r, 200)
	if l.Total != 12 || l.Limit != 20 || l.Offset != 0 || len(l.Users) != 12 || l.Users[0].Username != "admin1" {
		t.Fatalf("default listing: total %d limit %d offset %d, %d users, first %s", l.Total, l.Limit, l.Offset, len(l.Users), l.Users[0].Username)
	}
	l, _ = list(admin, "limit=5&offset=3&sort=username&order=asc")
	if l.Total != 12 || len(l.Users) != 5 || l.Users[0].Username != "member03" || l.Users[4].Username != "member09" {
		t.Fatalf("page: %+v", names(l))
	}
	l, _ = list(admin, "sort=username&order=desc&limit=2")
	if names(l) != "user1,root1" {
		t.Fatalf("desc: %s", names(l))
	}
	l, _ = list(admin, "is_active=false&sort=created_at")
	if l.Total != 3 || names(l) != "member12,member08,member04" {
		t.Fatalf("inactive by created_at: %d %s", l.Total, names(l))
	}
	l, _ = list(admin, "role=admin")
	if l.Total != 1 || names(l) != "admin1" {
		t.Fatalf("admins: %s", names(l))
	}
	l, _ = list(admin, "role=user&is_active=true&limit=100")
	if l.Total != 10 {
		t.Fatalf("active users: %d", l.Total)
	}
	l, _ = list(admin, "offset=100")
	if l.Total != 12 || len(l.Users) != 0 {
		t.Fatalf("past the end: total %d, %d users", l.Total, len(l.Users))
	}
	for _, sort := range []string{"role", "is_active", "created_at", "updated_at"} {
		for _, order := range []string{"asc", "desc"} {
			l, r := list(admin, "limit=100&sort="+sort+"&order="+order)
			expect(t, r, 200)
			if len(l.Users) != 12 {
				t.Fatalf("sort=%s: %d users", sort, len(l.Users))
			}
		}
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "offset=-1", "sort=password_hash", "sort=", "order=up", "role=root", "is_active=yes", "sort=" + url.QueryEscape("username; DROP TABLE users")} {
		_, r := list(admin, q)
		expect(t, r, 422, "validation_failed")
		field := strings.SplitN(q, "=", 2)[0]
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != field {
			t.Fatalf("%s: %s", q, r.body)
		}
	}
	_, r = list(user, "")
	expect(t, r, 403, "forbidden")
	_, r = list(user, "limit=0")
	expect(t, r, 403, "forbidden")
}

type userListJSON struct {
	Users  []userJSON `json:"users"`
	Total  int        `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
}

func names(l userListJSON) string {
	var n []string
	for _, u := range l.Users {
		n = append(n, u.Username)
	}
	return strings.Join(n, ",")
}

// TestRoleMatrix drives every admin action of the API as every caller role
// against every target role and the caller itself, and checks each cell
// against the rules of the reference, written out here independently of
// account.Authorize: super_admin manages admin and user, admin manages
// user, user manages nobody; nobody acts on a super admin or on
// themselves; only super admins grant or revoke admin.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root0")
	callers := map[string]*client{"super_admin": root}
	callerIDs := map[string]string{}
	callers["admin"], callerIDs["admin"] = s.as(root, "admin", "admin0")
	callers["user"], callerIDs["user"] = s.as(nil, "user", "user0")
	var me struct{ ID string }
	r := root.do("GET", "/api/v1/account", nil)
	r.json(t, &me)
	callerIDs["super_admin"] = me.ID

	manages := map[string]map[string]bool{
		"super_admin": {"admin": true, "user": true},
		"admin":       {"user": true},
		"user":        {},
	}
	type action struct {
		name, method, path string
		body               any
		superOnly          bool
		read               bool
		patch              bool // a merge patch (If-Match: * matches any user), 200 when allowed
	}
	actions := []action{
		{name: "get", method: "GET", path: "", read: true},
		{name: "set_password", method: "PUT", path: "/password", body: map[string]string{"password": "matrix-password"}},
		{name: "grant_admin", method: "PUT", path: "/roles/admin", superOnly: true},
		{name: "revoke_admin", method: "DELETE", path: "/roles/admin", superOnly: true},
		{name: "activate", method: "PUT", path: "/activation"},
		{name: "deactivate", method: "DELETE", path: "/activation"},
		{name: "delete", method: "DELETE", path: ""},
		{name: "patch", method: "PATCH", path: "", body: map[string]any{"display_name": "Matrix"}, patch: true},
	}
	s.addSecret("matrix-password")
	n := 0
	for _, callerRole := range []string{"super_admin", "admin", "user"} {
		for _, targetRole := range []string{"super_admin", "admin", "user", "self"} {
			for _, a := range actions {
				name := fmt.Sprintf("%s/%s/%s", callerRole, a.name, targetRole)
				// A fresh target per cell, so one cell's change (a grant,
				// a deactivation) cannot decide another's outcome.
				n++
				targetID := matrixTarget(t, s, root, targetRole, n, callerIDs[callerRole])
				want := matrixWant(callerRole, targetRole, a.read, a.superOnly, manages[callerRole])
				var o opts
				if a.patch {
					o.header = map[string]string{"Content-Type": "application/merge-patch+json", "If-Match": "*"}
					if want == 204 {
						want = 200
					}
				}
				r := callers[callerRole].do(a.method, "/api/v1/users/"+targetID+a.path, a.body, o)
				if r.StatusCode != want {
					t.Errorf("%s: status %d, want %d; %s", name, r.StatusCode, want, r.body)
				} else if want == 403 && r.problem(t).Code != "forbidden" {
					t.Errorf("%s: code %s, want forbidden", name, r.problem(t).Code)
				}
				// The deactivate cells must not lock out the callers.
				if targetRole == "self" && r.StatusCode < 300 && !a.read {
					t.Fatalf("%s: a caller acted on itself", name)
				}
			}
		}
	}
	// The same rule holds for POST /users with a role.
	for _, c := range []struct {
		caller, role string
		want         int
	}{
		{"super_admin", "admin", 201}, {"super_admin", "user", 201}, {"super_admin", "super_admin", 422},
		{"admin", "admin", 403}, {"admin", "user", 201}, {"admin", "super_admin", 422},
		{"user", "admin", 403}, {"user", "user", 403}, {"user", "super_admin", 403},
	} {
		n++
		r := callers[c.caller].do("POST", "/api/v1/users", map[string]string{"username": fmt.Sprintf("create%02d", n), "password": "target-password", "role": c.role})
		if r.StatusCode != c.want {
			t.Errorf("%s creates %s: %d, want %d; %s", c.caller, c.role, r.StatusCode, c.want, r.body)
		}
	}
	s.addSecret("target-password")
}

// matrixTarget returns the id of a fresh user of targetRole, the n-th, or
// selfID for "self".
func matrixTarget(t *testing.T, s *server, root *client, targetRole string, n int, selfID string) string {
	t.Helper()
	switch targetRole {
	case "self":
		return selfID
	case "super_admin":
		s.createSuperAdmin(fmt.Sprintf("tsuper%02d", n), "pw-"+randomHex(6))
		return idOf(t, root, fmt.Sprintf("tsuper%02d", n))
	case "admin":
		r := root.do("POST", "/api/v1/users", map[string]string{"username": fmt.Sprintf("tadmin%02d", n), "password": "target-password", "role": "admin"})
		expect(t, r, 201)
		return createdID(t, r)
	default:
		r := root.do("POST", "/api/v1/users", map[string]string{"username": fmt.Sprintf("tuser%02d", n), "password": "target-password"})
		expect(t, r, 201)
		return createdID(t, r)
	}
}

// matrixWant is the status a caller of callerRole gets for an action on a
// target of targetRole; manages lists the roles the caller manages.
func matrixWant(callerRole, targetRole string, read, superOnly bool, manages map[string]bool) int {
	switch {
	case callerRole == "user":
		return 403
	case read:
		return 200
	case targetRole == "self":
		return 403
	case superOnly && callerRole != "super_admin":
		return 403
	case !manages[targetRole]:
		return 403
	}
	return 204
}

func createdID(t *testing.T, r *response) string {
	t.Helper()
	var c struct{ ID string }
	r.json(t, &c)
	return c.ID
}

func idOf(t *testing.T, root *client, name string) string {
	t.Helper()
	r := root.do("GET", "/api/v1/users?limit=100&role=super_admin", nil)
	expect(t, r, http.StatusOK)
	var l userListJSON
	r.json(t, &l)
	for _, u := range l.Users {
		if u.Username == name {
			return u.ID
		}
	}
	t.Fatalf("no user %s", name)
	return ""
}
