package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

func testEngineDeps() Deps {
	return Deps{
		Users:    &account.Users{},
		Sessions: &account.Sessions{},
		Audit:    &account.Audit{},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:  http.NotFoundHandler(),
		Config:   Config{Docs: true},
	}
}

var ginParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

// TestEveryRouteDocumented walks Gin's route table and fails on any route
// that has no operation in the OpenAPI document, and on any documented
// operation that no route serves, so the two never drift apart.
func TestEveryRouteDocumented(t *testing.T) {
	t.Parallel()
	e, err := newEngine(testEngineDeps())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range routeDrift(e.Routes(), loadDocument(t)) {
		t.Error(p)
	}
}

// TestRouteDriftIsCaught: the check above fails for a route added by hand
// and for a documented operation left unserved.
func TestRouteDriftIsCaught(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	e, err := newEngine(testEngineDeps())
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/api/v1/undocumented", func(*gin.Context) {})
	if got := routeDrift(e.Routes(), doc); len(got) != 1 || !strings.Contains(got[0], "GET /api/v1/undocumented is not in") {
		t.Errorf("an undocumented route: %q", got)
	}
	d := testEngineDeps()
	d.Metrics = nil // /metrics is then not served by the API
	e, err = newEngine(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := routeDrift(e.Routes(), doc); len(got) != 1 || !strings.Contains(got[0], "GET /metrics has no route") {
		t.Errorf("an unserved operation: %q", got)
	}
}

// routeDrift lists the routes without an operation and the operations
// without a route.
func routeDrift(routes gin.RoutesInfo, doc *openapi3.T) []string {
	var problems []string
	served := map[string]bool{}
	for _, r := range routes {
		if r.Path == docsPath || strings.HasPrefix(r.Path, docsPath+"/") {
			continue // the documentation page, not an operation
		}
		if r.Method == http.MethodHead {
			continue // every GET's, checked by TestHeadOnEveryGetRoute
		}
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		served[r.Method+" "+path] = true
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			problems = append(problems, fmt.Sprintf("route %s %s is not in the OpenAPI document", r.Method, path))
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				problems = append(problems, fmt.Sprintf("documented operation %s %s has no route", method, path))
			}
		}
	}
	return problems
}

// TestDocumentIsValid: the document loads and validates as OpenAPI 3.1,
// every operation documents its errors as problem+json and the
// X-Request-ID header it takes and returns, and every authenticated one
// lists 401.
func TestDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			checkOperationDocumented(t, method, path, op)
		}
	}
	checkCodesInProblemSchema(t, doc)
}

// checkOperationDocumented reports what one operation leaves out: a
// default (problem) response, a 401 when it is authenticated, the
// X-Request-ID request header, the X-Request-ID header of every response,
// and problem+json on every error response.
func checkOperationDocumented(t *testing.T, method, path string, op *openapi3.Operation) {
	t.Helper()
	if op.Responses.Default() == nil {
		t.Errorf("%s %s: no default (problem) response", method, path)
	}
	if op.Security != nil && len(*op.Security) > 0 && op.Responses.Status(401) == nil {
		t.Errorf("%s %s: authenticated but no 401", method, path)
	}
	takes := false
	for _, p := range op.Parameters {
		takes = takes || (p.Value.In == "header" && p.Value.Name == RequestIDHeader)
	}
	if !takes {
		t.Errorf("%s %s: the %s request header is not documented", method, path, RequestIDHeader)
	}
	for code, r := range op.Responses.Map() {
		if r.Value.Headers[RequestIDHeader] == nil {
			t.Errorf("%s %s %s: the %s response header is not documented", method, path, code, RequestIDHeader)
		}
		if code[0] < '4' && code != "default" {
			continue
		}
		if r.Value.Content.Get("application/problem+json") == nil {
			t.Errorf("%s %s %s: error response is not problem+json", method, path, code)
		}
	}
}

// checkCodesInProblemSchema reports every code the service can answer
// with that the Problem schema's code enum lacks.
func checkCodesInProblemSchema(t *testing.T, doc *openapi3.T) {
	t.Helper()
	enum := doc.Components.Schemas["ProblemFields"].Value.Properties["code"].Value.Enum
	for code := range statusOf {
		found := false
		for _, v := range enum {
			found = found || v == string(code)
		}
		if !found {
			t.Errorf("code %s is not documented", code)
		}
	}
}

func loadDocument(t *testing.T) *openapi3.T {
	t.Helper()
	raw, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil || !strings.HasPrefix(generic["openapi"].(string), "3.1") {
		t.Fatalf("not an OpenAPI 3.1 document: %v", err)
	}
	return doc
}

// TestDocumentMatchesDomain: the values openapi.yaml spells out are the
// domain's: the sort fields, the roles and the count cap. (The username
// and password rules are checked against the domain's by FuzzSignUpBody.)
func TestDocumentMatchesDomain(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	strs := func(vals []any) []string {
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = fmt.Sprint(v)
		}
		return out
	}
	list := doc.Paths.Find("/api/v1/users").Get
	if got := strs(list.Parameters.GetByInAndName("query", "sort").Schema.Value.Enum); !slices.Equal(got, account.SortFields) {
		t.Errorf("sort enum %v, want account.SortFields %v", got, account.SortFields)
	}
	if max := list.Parameters.GetByInAndName("query", "offset").Schema.Value.Max; max == nil || *max != account.MaxOffset {
		t.Errorf("offset maximum %v, want account.MaxOffset %d", max, account.MaxOffset)
	}
	roles := strs(doc.Components.Schemas["Role"].Value.Enum)
	if want := []string{string(account.RoleUser), string(account.RoleAdmin), string(account.RoleSuperAdmin)}; !slices.Equal(roles, want) {
		t.Errorf("Role enum %v, want %v", roles, want)
	}
	for _, r := range roles {
		if !account.Role(r).Valid() {
			t.Errorf("role %q is not valid in the domain", r)
		}
	}
	for name, s := range map[string]*openapi3.SchemaRef{
		"DisplayName": doc.Components.Schemas["DisplayName"], "User.display_name": doc.Components.Schemas["User"].Value.Properties["display_name"],
	} {
		if max := s.Value.MaxLength; max == nil || *max != account.DisplayNameMaxLen {
			t.Errorf("%s maxLength %v, want account.DisplayNameMaxLen %d", name, max, account.DisplayNameMaxLen)
		}
	}
	total := doc.Components.Schemas["UserList"].Value.Properties["total"].Value.Description
	if !strings.Contains(total, fmt.Sprintf("offset + %d", account.CountCap)) {
		t.Errorf("UserList.total says %q; the count cap is %d", total, account.CountCap)
	}
}

// TestDisplayNameRuleMatchesDocument: the DisplayName schema, which
// sign-up, create, both profile patches and User refer to, accepts exactly
// what account.ValidateDisplayName accepts, compiled as the request checks
// compile it; and every profile field of the domain is a property of
// ProfilePatch that refers to one schema shared with the two create bodies.
func TestDisplayNameRuleMatchesDocument(t *testing.T) {
	t.Parallel()
	doc := loadDocument(t)
	rule, err := compileValue(doc.Components.Schemas["DisplayName"].Value)
	if err != nil {
		t.Fatal(err)
	}
	n := account.DisplayNameMaxLen
	for _, name := range []string{"", "A", "Alice Liddell", strings.Repeat("a", n), strings.Repeat("a", n+1),
		strings.Repeat("é", n), strings.Repeat("é", n+1), strings.Repeat("😀", n), "tab\there", "nul\x00", "del\x7f", "c1\u0085",
		"zero\u200bwidth", "line\u2028sep", " leading", "ünïcödé"} {
		doc, domain := rule.checkString(name) == "", account.ValidateDisplayName(name) == ""
		if doc != domain {
			t.Errorf("%q: the document accepts it: %v, the domain: %v", name, doc, domain)
		}
	}
	if msg, _ := rule.checkJSON(nil); msg != "" {
		t.Errorf("DisplayName refuses null: %s", msg)
	}
	patch := doc.Components.Schemas["ProfilePatch"].Value.Properties
	for _, field := range account.ProfileFields() {
		want := patch[field]
		if want == nil || want.Ref == "" {
			t.Errorf("ProfilePatch.%s is not a $ref to the field's one schema", field)
			continue
		}
		for _, body := range []string{"SignUpRequest", "CreateUserRequest", "User"} {
			if got := doc.Components.Schemas[body].Value.Properties[field]; got == nil || got.Ref != want.Ref {
				t.Errorf("%s.%s does not refer to %s", body, field, want.Ref)
			}
		}
	}
}
