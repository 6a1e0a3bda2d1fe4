package main

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAuditEndpoint drives GET /api/v1/audit: super admins only, filters
// and cursor paging, request id and client address recorded, and no
// secret anywhere in the table.
func TestAuditEndpoint(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, rootID := s.as(nil, "super_admin", "root1")
	admin, _ := s.as(root, "admin", "admin1")
	user, userID := s.as(admin, "user", "user1")
	expect(t, admin.do("PUT", "/api/v1/users/"+userID+"/password", map[string]string{"password": "new-password-1"}, opts{header: map[string]string{"X-Request-ID": "req-audit-1"}}), http.StatusNoContent)
	s.addSecret("new-password-1")
	expect(t, admin.do("DELETE", "/api/v1/users/"+userID+"/activation", nil), http.StatusNoContent)
	expect(t, root.do("PUT", "/api/v1/users/"+userID+"/roles/admin", nil), http.StatusNoContent)

	expect(t, admin.do("GET", "/api/v1/audit", nil), http.StatusForbidden, "forbidden")
	// user1's sessions ended with the deactivation; another user is refused.
	expect(t, user.do("GET", "/api/v1/audit", nil), http.StatusUnauthorized, "unauthenticated")
	other, _ := s.as(admin, "user", "user2")
	expect(t, other.do("GET", "/api/v1/audit", nil), http.StatusForbidden, "forbidden")
	expect(t, s.newClient(false).do("GET", "/api/v1/audit", nil), http.StatusUnauthorized, "unauthenticated")

	type page struct {
		Events []struct {
			Action        string         `json:"action"`
			ActorName     string         `json:"actor_name"`
			TargetName    string         `json:"target_name"`
			RequestID     string         `json:"request_id"`
			ClientAddress string         `json:"client_address"`
			Details       map[string]any `json:"details"`
		} `json:"events"`
		NextCursor string `json:"next_cursor"`
	}
	var actions []string
	after := ""
	for {
		q := url.Values{"target": {userID}, "limit": {"2"}}
		if after != "" {
			q.Set("after", after)
		}
		r := root.do("GET", "/api/v1/audit?"+q.Encode(), nil)
		expect(t, r, http.StatusOK)
		var p page
		r.json(t, &p)
		for _, e := range p.Events {
			actions = append(actions, e.Action)
			if e.Action == "user.password_set" && (e.RequestID != "req-audit-1" || e.ActorName != "admin1" || e.ClientAddress != "127.0.0.1") {
				t.Errorf("password_set event: %+v", e)
			}
		}
		if after = p.NextCursor; after == "" {
			break
		}
	}
	want := "user.role_granted user.deactivated user.password_set user.logged_in user.signed_up"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("events on user1, newest first:\n got %s\nwant %s", got, want)
	}
	r := root.do("GET", "/api/v1/audit?action=user.logged_in&actor="+rootID, nil)
	expect(t, r, http.StatusOK)
	var p page
	r.json(t, &p)
	if len(p.Events) != 1 || p.Events[0].ActorName != "root1" {
		t.Fatalf("root1's logins: %+v", p)
	}
	expect(t, root.do("GET", "/api/v1/audit?action=user.exploded&actor=x&since=yesterday", nil), http.StatusUnprocessableEntity, "validation_failed")

	// No secret in the table: every column of every row, as text, against
	// every password, token and the pepper the test used, and hash markers.
	dump := s.queryString(`SELECT string_agg(t::text, E'\n') FROM audit_events t`)
	hashes := s.queryString(`SELECT string_agg(encode(password_hash, 'hex') || ' ' || encode(password_hash, 'escape'), E'\n') FROM users`)
	for _, sec := range append(append([]string{"$argon2", "password_hash"}, s.secrets...), strings.Fields(hashes)...) {
		if sec != "" && strings.Contains(dump, sec) {
			t.Errorf("the audit table holds a secret: %q", sec)
		}
	}
	tokens := s.queryString(`SELECT string_agg(encode(token_hash, 'hex'), ' ') FROM auth_sessions`)
	for _, h := range strings.Fields(tokens) {
		if _, err := hex.DecodeString(h); err == nil && strings.Contains(dump, h) {
			t.Errorf("the audit table holds a session token hash")
		}
	}
	if !strings.Contains(dump, "user.password_set") {
		t.Fatalf("the dump is not the table:\n%s", dump)
	}
	s.checkSecrets()
}
