package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestContractForGeneratedClients checks the mismatches a team found when
// generating clients from /openapi.json (issue 31): what the service sends
// is what the served document says, in the form generators read.
func TestContractForGeneratedClients(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")

	// Every 401 carries WWW-Authenticate, and the document says so.
	r := s.newClient(false).do("GET", "/api/v1/account", nil)
	expect(t, r, http.StatusUnauthorized, "unauthenticated")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("a 401 without WWW-Authenticate")
	}
	if h := s.doc.Paths.Find("/api/v1/account").Get.Responses.Status(401).Value.Headers["Www-Authenticate"]; h == nil || !h.Value.Required {
		t.Error("the document does not promise WWW-Authenticate on 401")
	}

	// A login sets two cookies, in two Set-Cookie headers; the document
	// says so, as an array.
	user := s.newClient(false)
	user.signUp("grace1", "grace-password")
	r = user.login("grace1", "grace-password")
	if n := len(r.Header.Values("Set-Cookie")); n != 2 {
		t.Errorf("login sent %d Set-Cookie headers, want 2", n)
	}
	sc := s.doc.Paths.Find("/api/v1/account/login").Post.Responses.Status(200).Value.Headers["Set-Cookie"]
	if v := sc.Value.Schema.Value; !v.Type.Is(openapi3.TypeArray) {
		t.Errorf("the document's Set-Cookie of login is %v, not an array", v.Type)
	}

	// A deactivated user's token is no session (deactivation ended it):
	// 401, as documented, with error="invalid_token".
	var me struct{ ID string }
	r = user.do("GET", "/api/v1/account", nil)
	r.json(t, &me)
	expect(t, root.do("DELETE", "/api/v1/users/"+me.ID+"/activation", nil), http.StatusNoContent)
	r = user.do("GET", "/api/v1/account", nil)
	expect(t, r, http.StatusUnauthorized, "unauthenticated")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}

	checkGeneratorFriendly(t, s.doc)
}

// checkGeneratorFriendly reports what generators trip on: a request
// property with a default (openapi-typescript makes it required), a header
// name that is not canonical (ogen renames it), and a pattern on a uuid
// (ogen drops it).
func checkGeneratorFriendly(t *testing.T, doc *openapi3.T) {
	t.Helper()
	if role := doc.Components.Schemas["CreateUserRequest"].Value.Properties["role"].Value; role.Default != nil {
		t.Errorf("CreateUserRequest.role has default %v, which makes it required in a generated TypeScript type", role.Default)
	}
	canonical := func(where, name string) {
		if http.CanonicalHeaderKey(name) != name {
			t.Errorf("%s: header %q is not in canonical form %q", where, name, http.CanonicalHeaderKey(name))
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.In == "header" {
					canonical(method+" "+path, p.Value.Name)
				}
				if v := p.Value.Schema.Value; v.Format == "uuid" && v.Pattern != "" {
					t.Errorf("%s %s: parameter %s has a pattern beside format uuid", method, path, p.Value.Name)
				}
			}
			for code, resp := range op.Responses.Map() {
				for name := range resp.Value.Headers {
					canonical(method+" "+path+" "+code, name)
				}
			}
		}
	}
}
