package main

import (
	"net/http"
	"testing"
	"time"
)

// TestRevokedOnOneReplicaRefusedOnAnother (issue 32): two servers on one
// database. A session that server B has just served an authenticated read
// with (the session, its caller and the user read, in one statement) is
// refused by B's very next request once server A ends it: by a logout, a
// password change, a deactivation, or the end of its lifetime. B keeps
// nothing that could serve it.
func TestRevokedOnOneReplicaRefusedOnAnother(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ACCOUNTS_PASSWORD_PEPPER": "pepper-" + randomHex(16)}
	a := startServer(t, env)
	b := startServerOn(t, a.dbURL, env)
	superA := a.newClient(false)
	rootPW := "pw-" + randomHex(6)
	a.createSuperAdmin("root1", rootPW)
	superA.login("root1", rootPW)
	adminA, adminID := a.as(superA, "admin", "admin1")
	_, userID := a.as(superA, "user", "user1")
	adminPW := "pw-" + randomHex(6)
	a.addSecret(adminPW)
	expect(t, superA.do("PUT", "/api/v1/users/"+adminID+"/password", map[string]string{"password": adminPW}), http.StatusNoContent)

	// onB is a client of server B with adminA's current session, after
	// it has served that session's reads.
	onB := func() *client {
		t.Helper()
		adminA.token = ""
		adminA.login("admin1", adminPW)
		c := b.newClient(false)
		c.token = adminA.token
		expect(t, c.do("GET", "/api/v1/users/"+userID, nil), http.StatusOK)
		expect(t, c.do("GET", "/api/v1/account", nil), http.StatusOK)
		return c
	}
	refused := func(how string, c *client) {
		t.Helper()
		for _, path := range []string{"/api/v1/users/" + userID, "/api/v1/account"} {
			if r := c.do("GET", path, nil); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("after %s on server A, server B answered GET %s with %d, want 401", how, path, r.StatusCode)
			}
		}
	}

	c := onB()
	expect(t, adminA.do("DELETE", "/api/v1/account/logout", nil), http.StatusNoContent)
	refused("a logout", c)

	c = onB()
	newPW := "pw-" + randomHex(6)
	a.addSecret(newPW)
	expect(t, adminA.do("PUT", "/api/v1/account/password", map[string]string{"current_password": adminPW, "new_password": newPW}), http.StatusOK)
	adminPW = newPW
	refused("a password change", c)

	c = onB()
	expect(t, superA.do("DELETE", "/api/v1/users/"+adminID+"/activation", nil), http.StatusNoContent)
	refused("a deactivation", c)
	expect(t, superA.do("PUT", "/api/v1/users/"+adminID+"/activation", nil), http.StatusNoContent)

	c = onB()
	b.clock.Advance(25 * time.Hour)
	refused("the end of the session's lifetime", c)
}
