package main

import (
	"net/http"
	"testing"
)

// TestCookieLogoutWithoutBody is the reported bug: a browser's plain
// fetch DELETE (no body, no Content-Type) from the service's own origin
// was refused as csrf_rejected.
func TestCookieLogoutWithoutBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	browser := s.newClient(true)
	browser.signUp("hugo1", "hugo-password")
	browser.login("hugo1", "hugo-password")
	r := browser.do("DELETE", "/api/v1/account/logout", nil, opts{header: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	expect(t, r, http.StatusNoContent)
	expect(t, browser.do("GET", "/api/v1/account", nil), http.StatusUnauthorized, "unauthenticated")
}
