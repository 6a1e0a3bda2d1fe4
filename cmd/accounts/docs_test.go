package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestDocsSetting: serve leaves /docs off unless http.docs is set, and
// with it on the page and its assets come from the binary.
func TestDocsSetting(t *testing.T) {
	t.Parallel()
	off := startServer(t, nil)
	expect(t, off.newClient(false).do("GET", "/docs", nil), http.StatusNotFound, "not_found")

	on := startServer(t, map[string]string{"ACCOUNTS_HTTP_DOCS": "true"})
	c := on.newClient(false)
	r := c.do("GET", "/docs", nil)
	expect(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `/docs/swagger-ui-bundle.js`) || strings.Contains(string(r.body), "https://") {
		t.Fatalf("/docs does not load Swagger UI from this server:\n%s", r.body)
	}
	expect(t, c.do("GET", "/docs/swagger-ui-bundle.js", nil), http.StatusOK)
	expect(t, c.do("GET", "/docs/init.js", nil), http.StatusOK)
	expect(t, c.do("GET", "/docs/nope.js", nil), http.StatusNotFound, "not_found")
}
