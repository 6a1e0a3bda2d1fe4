package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The benchmarks below compare ways of applying openapi.yaml to a request:
// kin-openapi's openapi3filter, which interprets the document per request
// (what the service did before issue 21), santhosh-tekuri/jsonschema v6,
// which compiles the schemas of the document, and the rules of rules.go,
// compiled from the document at start-up (what the service does).
// bench/RESULTS.md has a run.

const benchID = "0192d4e0-7c1a-7b3e-9f00-123456789abc"

func benchOperation(b *testing.B, path, method string) (*openapi3.T, *openapi3.Operation, *openapi3.PathItem) {
	b.Helper()
	doc, err := loadSpec()
	if err != nil {
		b.Fatal(err)
	}
	item := doc.Paths.Find(path)
	return doc, item.GetOperation(method), item
}

func BenchmarkPathIDKinOpenAPI(b *testing.B) {
	doc, op, item := benchOperation(b, "/api/v1/users/{id}", http.MethodGet)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/users/"+benchID, nil)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: map[string]string{"id": benchID},
		Route: &routers.Route{Spec: doc, Path: "/api/v1/users/{id}", PathItem: item, Method: http.MethodGet, Operation: op}}
	p := item.Parameters.GetByInAndName("path", "id")
	for b.Loop() {
		if err := openapi3filter.ValidateParameter(context.Background(), in, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPathIDCompiled(b *testing.B) {
	_, _, item := benchOperation(b, "/api/v1/users/{id}", http.MethodGet)
	r, err := compileParam(item.Parameters.GetByInAndName("path", "id"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if msg := r.value.checkText(benchID); msg != "" {
			b.Fatal(msg)
		}
	}
}

const benchQuery = "limit=5&offset=3&sort=role&order=desc&role=admin&is_active=true"

func BenchmarkListQueryKinOpenAPI(b *testing.B) {
	doc, op, item := benchOperation(b, "/api/v1/users", http.MethodGet)
	route := &routers.Route{Spec: doc, Path: "/api/v1/users", PathItem: item, Method: http.MethodGet, Operation: op}
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/users?"+benchQuery, nil)
		in := &openapi3filter.RequestValidationInput{Request: req, Route: route}
		for _, p := range op.Parameters {
			if p.Value.In == "query" {
				if err := openapi3filter.ValidateParameter(context.Background(), in, p.Value); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

func BenchmarkListQueryCompiled(b *testing.B) {
	_, op, item := benchOperation(b, "/api/v1/users", http.MethodGet)
	o, err := newOperation(item, op)
	if err != nil {
		b.Fatal(err)
	}
	s := &server{}
	for b.Loop() {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodGet, "/api/v1/users?"+benchQuery, nil)
		if !s.checkParameters(c, o.query) {
			b.Fatal("refused")
		}
	}
}

const benchBody = `{"username":"alice.smith","password":"correct horse battery"}`

func BenchmarkSignUpBodyKinOpenAPI(b *testing.B) {
	doc, _, _ := benchOperation(b, "/api/v1/account/signup", http.MethodPost)
	schema := doc.Components.Schemas["SignUpRequest"].Value
	for b.Loop() {
		var v any
		if err := json.Unmarshal([]byte(benchBody), &v); err != nil {
			b.Fatal(err)
		}
		if err := schema.VisitJSON(v, openapi3.MultiErrors()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignUpBodyJSONSchemaV6(b *testing.B) {
	raw, err := Document()
	if err != nil {
		b.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("openapi.json", doc); err != nil {
		b.Fatal(err)
	}
	sch, err := c.Compile("openapi.json#/components/schemas/SignUpRequest")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(benchBody)))
		if err != nil {
			b.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignUpBodyCompiled(b *testing.B) {
	doc, _, _ := benchOperation(b, "/api/v1/account/signup", http.MethodPost)
	rule, err := compileBody(doc.Components.Schemas["SignUpRequest"].Value, mediaJSON)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		members, err := parseBody([]byte(benchBody), rule)
		if _, err := checkMembers(rule, members, err); err != nil {
			b.Fatal(err)
		}
	}
}
