package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// TestNullDisplayNameReadsAsNull sets the nullable display_name column to
// NULL behind the service's back (as a manual UPDATE or Ent's generated
// ClearDisplayName would) and reads those users through every endpoint
// that returns users, the login and an admin's create, and `users list`:
// each answers, and shows display_name as null, never a 500. The harness
// checks every answer against the served document, which must allow the
// null. A set display name (sign-up or an admin's create) reads back, and
// one over 64 characters, an empty one or one with a control character is
// refused.
func TestNullDisplayNameReadsAsNull(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.createSuperAdmin("rootnull", "root-password-1")
	member := s.newClient(false)
	memberID := member.signUp("plain1", "member-password")
	s.sql(`UPDATE users SET display_name = NULL`)

	root := s.newClient(false)
	root.login("rootnull", "root-password-1")
	member.login("plain1", "member-password")
	nameOf := func(u map[string]any) (any, bool) { v, ok := u["display_name"]; return v, ok }
	one := func(c *client, path string) map[string]any {
		t.Helper()
		r := c.do("GET", path, nil)
		expect(t, r, http.StatusOK)
		var u map[string]any
		r.json(t, &u)
		return u
	}
	for path, c := range map[string]*client{"/api/v1/account": member, "/api/v1/users/" + memberID: root} {
		if v, ok := nameOf(one(c, path)); !ok || v != nil {
			t.Fatalf("GET %s: display_name %v (present %t), want null", path, v, ok)
		}
	}

	// An admin's create, with a name of 64 characters (not bytes), and
	// another name at sign-up: both read back; 65 characters are refused.
	long := strings.Repeat("é", 64)
	r := root.do("POST", "/api/v1/users", map[string]any{"username": "named1", "password": "named-password", "display_name": long})
	expect(t, r, http.StatusCreated)
	namedID := createdID(t, r)
	if v, _ := nameOf(one(root, "/api/v1/users/"+namedID)); v != long {
		t.Fatalf("display_name after create: %v, want %q", v, long)
	}
	signedID := s.newClient(false).do("POST", "/api/v1/account/signup", map[string]any{"username": "named2", "password": "named-password", "display_name": "Named Two"})
	expect(t, signedID, http.StatusCreated)
	if v, _ := nameOf(one(root, "/api/v1/users/"+createdID(t, signedID))); v != "Named Two" {
		t.Fatalf("display_name after sign-up: %v", v)
	}
	for _, bad := range []string{long + "x", "", "bell\a"} {
		expect(t, root.do("POST", "/api/v1/users", map[string]any{"username": "named3", "password": "named-password", "display_name": bad}),
			http.StatusUnprocessableEntity, "validation_failed")
	}

	// The listing shows the nulls and the name.
	r = root.do("GET", "/api/v1/users?limit=100", nil)
	expect(t, r, http.StatusOK)
	var page struct{ Users []map[string]any }
	r.json(t, &page)
	listed := map[string]any{}
	for _, u := range page.Users {
		v, ok := nameOf(u)
		if !ok {
			t.Fatalf("GET /users: %v has no display_name", u)
		}
		listed[u["username"].(string)] = v
	}
	if len(listed) != 4 || listed["plain1"] != nil || listed["rootnull"] != nil || listed["named1"] != long {
		t.Fatalf("GET /users display names: %v", listed)
	}

	// users list --json, from the command line.
	out, err := runWithStdin(maps.Clone(s.env), "", "users", "list", "--json")
	if err != nil {
		t.Fatalf("users list: %v\n%s", err, out)
	}
	var cli []map[string]any
	if err := json.Unmarshal([]byte(out), &cli); err != nil {
		t.Fatalf("users list --json: %v\n%s", err, out)
	}
	for _, u := range cli {
		if v, ok := nameOf(u); !ok || v != listed[u["username"].(string)] {
			t.Fatalf("users list --json: %v, want display_name %v", u, listed[u["username"].(string)])
		}
	}
	if len(cli) != len(listed) {
		t.Fatalf("users list --json listed %d users, want %d:\n%s", len(cli), len(listed), out)
	}
}
