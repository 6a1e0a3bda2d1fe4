package main

import (
	"testing"
)

// TestUnknownQueryParameters checks that a query parameter the document
// does not name is refused, as an unknown body member is: a client that
// misspells a filter must not get every user back and believe it filtered.
func TestUnknownQueryParameters(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	user, _ := s.as(nil, "user", "user1")
	for _, c := range []struct {
		who   *client
		path  string
		field string
	}{
		{root, "/api/v1/users?rolee=admin", "rolee"},
		{root, "/api/v1/users?role=admin&Limit=5", "Limit"},
		{user, "/api/v1/account?expand=all", "expand"},
		{root, "/api/v1/audit?actorr=x", "actorr"},
		{s.newClient(false), "/livez?x=1", "x"},
	} {
		r := c.who.do("GET", c.path, nil)
		expect(t, r, 422, "validation_failed")
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != c.field || p.Errors[0].Message != "is not a known parameter" {
			t.Fatalf("GET %s: %s", c.path, r.body)
		}
	}
	// A refused parameter changes nothing: the logout behind it does not run.
	expect(t, user.do("DELETE", "/api/v1/account/logout?scopes=global", nil), 422, "validation_failed")
	expect(t, user.do("GET", "/api/v1/account", nil), 200)
}

// TestListUsersByUsername checks GET /users?username=: an exact match,
// without regard to letter case as logins match, and nothing for a prefix.
func TestListUsersByUsername(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	_, aliceID := s.as(nil, "user", "Alice.Liddell")
	s.as(nil, "user", "alice.liddell2")
	for _, q := range []string{"Alice.Liddell", "alice.liddell", "ALICE.LIDDELL"} {
		r := root.do("GET", "/api/v1/users?username="+q, nil)
		expect(t, r, 200)
		var l userListJSON
		r.json(t, &l)
		if l.Total != 1 || len(l.Users) != 1 || l.Users[0].ID != aliceID {
			t.Fatalf("username=%s: %s", q, r.body)
		}
	}
	r := root.do("GET", "/api/v1/users?username=alice", nil)
	expect(t, r, 200)
	var l userListJSON
	r.json(t, &l)
	if l.Total != 0 || len(l.Users) != 0 {
		t.Fatalf("a prefix matched: %s", r.body)
	}
	r = root.do("GET", "/api/v1/users?username=a", nil)
	expect(t, r, 422, "validation_failed")
	if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "username" {
		t.Fatalf("short name: %s", r.body)
	}
}
