package main

import (
	"net/http"
	"testing"
)

func TestAPISmoke(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.newClient(true)
	c.signUp("alice", "password-alice-1")
	c.login("alice", "password-alice-1")
	r := c.do("GET", "/api/v1/account", nil)
	expect(t, r, http.StatusOK)
	t.Logf("%s", r.body)
}
