package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestReplicasWithoutSecretsAgree (issue 29, finding 6): two servers on one
// database, started from one configuration without password.pepper or
// auth.device_key, key the throttle's buckets and the device tokens alike:
// an unknown name's 401/429 sequence across both is an existing name's
// (one budget, no username oracle), and a device token one server issued
// is trusted by the other. serve still starts, with the pepper warning.
func TestReplicasWithoutSecretsAgree(t *testing.T) {
	t.Parallel()
	env := throttleEnv(map[string]string{"ACCOUNTS_PASSWORD_PEPPER": ""})
	one := startServer(t, env)
	two := startServerOn(t, one.dbURL, env)
	for _, s := range []*server{one, two} {
		if !strings.Contains(s.stderr.String(), "password.pepper is empty") {
			t.Fatal("a server without a pepper did not warn about it")
		}
	}
	replicas := []*server{one, two}
	one.newClient(false).signUp("exists3", "exists-password")
	sequence := func(name string) string {
		var seq []string
		for i := range 12 {
			seq = append(seq, fmt.Sprint(guess(replicas[i%2].newClient(false), name, "198.51.100.1").StatusCode))
		}
		return strings.Join(seq, " ")
	}
	existing, unknown := sequence("exists3"), sequence("unknown3")
	if existing != unknown {
		t.Errorf("across two replicas an existing name answers %s, an unknown one %s", existing, unknown)
	}
	if strings.Count(unknown, "401") != 5 {
		t.Errorf("an unknown name across two replicas answers %s: want the one budget of 5 guesses", unknown)
	}

	one.newClient(false).signUp("owner3", "owner-password")
	r := one.newClient(false).login("owner3", "owner-password")
	device := r.Header.Get("X-Device-Token")
	for i := range 6 {
		guess(two.newClient(false), "owner3", fmt.Sprintf("203.0.113.%d", i+1))
	}
	r = two.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "owner3", "password": "owner-password"},
		opts{header: map[string]string{"X-Forwarded-For": "192.0.2.1", "X-Device-Token": device}})
	expect(t, r, http.StatusOK)
}
