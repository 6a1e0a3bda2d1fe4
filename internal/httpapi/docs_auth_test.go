package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDocsOffersBearerOnly (issue 30, finding 6): Swagger UI at /docs
// lists the document's security schemes in its Authorize dialog, and a
// page cannot set the HttpOnly session cookie, so a value typed for
// cookieAuth there never reaches the server (401 on every try). The
// document /docs loads offers the bearer scheme alone, and no operation
// asks it for the cookie; the browser still sends the cookie that login
// set. The API's own document keeps both, bearer first.
func TestDocsOffersBearerOnly(t *testing.T) {
	t.Parallel()
	e, err := newEngine(testEngineDeps())
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		return w.Body.String()
	}
	if init := get(docsPath + "/init.js"); !strings.Contains(init, `url: "`+docsPath+`/openapi.json"`) {
		t.Fatalf("/docs does not load its own document:\n%s", init)
	}
	docs := get(docsPath + "/openapi.json")
	var doc struct {
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(docs), &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Components.SecuritySchemes["bearerAuth"]; !ok || len(doc.Components.SecuritySchemes) != 1 {
		t.Errorf("/docs is offered the schemes %v, want bearerAuth alone", doc.Components.SecuritySchemes)
	}
	secured := 0
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				Security []map[string]any `json:"security"`
			}
			if json.Unmarshal(raw, &op) != nil {
				continue // the path's parameters, not an operation
			}
			for _, req := range op.Security {
				if _, ok := req["cookieAuth"]; ok || len(req) == 0 && len(op.Security) > 1 {
					t.Errorf("%s %s asks /docs for %v", method, path, op.Security)
				}
			}
			if len(op.Security) > 0 {
				secured++
			}
		}
	}
	if secured == 0 {
		t.Error("no operation of the /docs document asks for bearerAuth")
	}
	api := get("/openapi.json")
	if b, c := strings.Index(api, `"bearerAuth": {`), strings.Index(api, `"cookieAuth": {`); b < 0 || c < 0 || b > c {
		t.Errorf("/openapi.json does not define bearerAuth before cookieAuth (at %d and %d)", b, c)
	}
}
