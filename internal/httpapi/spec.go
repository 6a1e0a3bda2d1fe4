package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"accounts/internal/account"
)

// specYAML is the contract of the API. api.gen.go is generated from it,
// the request validator reads it, and GET /openapi.json serves it.
//
//go:embed openapi.yaml
var specYAML []byte

// Document returns the OpenAPI document of the API as indented JSON, its
// keys in the order openapi.yaml writes them.
func Document() ([]byte, error) { return document(nil) }

// docsDocument is Document as /docs shows it: without the cookie scheme.
// Swagger UI lists every scheme in its Authorize dialog, and a page cannot
// set the HttpOnly session cookie, so a value typed for it never reaches
// the server; the browser sends the cookie login set by itself.
func docsDocument() ([]byte, error) { return document(func(n *yaml.Node) { dropKey(n, "cookieAuth") }) }

// document is Document with edit, when set, applied to the parsed file.
func document(edit func(*yaml.Node)) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(specYAML, &root); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if edit != nil {
		edit(&root)
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &root); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return out.Bytes(), nil
}

// dropKey removes every mapping entry named key under n, and every item of
// a list that is a mapping of key alone (a security requirement of that
// scheme: left empty, it would mean "no authentication").
func dropKey(n *yaml.Node, key string) {
	switch n.Kind {
	case yaml.DocumentNode:
		dropKey(n.Content[0], key)
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i < len(n.Content); i += 2 {
			if n.Content[i].Value != key {
				dropKey(n.Content[i+1], key)
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
		}
		n.Content = kept
	case yaml.SequenceNode:
		kept := n.Content[:0]
		for _, item := range n.Content {
			if item.Kind != yaml.MappingNode || len(item.Content) != 2 || item.Content[0].Value != key {
				dropKey(item, key)
				kept = append(kept, item)
			}
		}
		n.Content = kept
	}
}

// writeJSON writes a YAML node as JSON, keeping the order of mapping keys
// (which a map would lose) so that the served document reads like the file.
func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			key, _ := json.Marshal(n.Content[i].Value)
			buf.Write(key)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	}
	return nil
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!int", "!!float":
		if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
			return fmt.Errorf("line %d: %q is not a JSON number", n.Line, n.Value)
		}
		buf.WriteString(n.Value)
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return err
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!null":
		buf.WriteString("null")
	default:
		s, _ := json.Marshal(n.Value)
		buf.Write(s)
	}
	return nil
}

// loadSpec parses and validates the embedded document.
func loadSpec() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(specYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is invalid: %w", err)
	}
	return doc, nil
}

// sessionRule says what an operation asks of the caller's session.
type sessionRule int

const (
	sessionIgnored  sessionRule = iota
	sessionRequired             // the operation lists a security scheme
	sessionRefused              // x-anonymous-only: logged-in callers get 403
)

// operation is what the middleware in front of the handlers needs to know
// of one operation of the document.
type operation struct {
	session sessionRule
	// action is what x-required-role asks account.Authorize to allow the
	// caller, "" for nothing: admin is ActionViewUsers (any admin
	// endpoint), super_admin is ActionReadAudit.
	action account.Action
	path   []*paramRule
	query  []*paramRule
	// body is the compiled schema of the request body, nil when there is
	// none.
	body *bodyRule
	// ifMatchRequired is x-if-match: required: a request without
	// If-Match answers 428.
	ifMatchRequired bool
	// throttled is x-throttled: the answers carry the RateLimit headers.
	throttled bool
	// readsUser is the path parameter of a GET that reads one user by id
	// (#/components/parameters/UserID), "" for other operations: the
	// session lookup reads that user in the same statement.
	readsUser string
}

// routeKey finds an operation by the method and Gin route template of a
// request.
type routeKey struct{ method, route string }

// operations indexes the document's operations by the Gin route that
// serves each ("/users/{id}" is "/users/:id" in Gin).
func operations(doc *openapi3.T) (map[routeKey]*operation, error) {
	ops := map[routeKey]*operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o, err := newOperation(item, op)
			if err != nil {
				return nil, fmt.Errorf("openapi.yaml: %s %s: %w", method, path, err)
			}
			if method == http.MethodGet {
				o.readsUser = userParameter(append(item.Parameters, op.Parameters...))
			}
			ops[routeKey{method, ginRoute(path)}] = o
		}
	}
	return ops, nil
}

func newOperation(item *openapi3.PathItem, op *openapi3.Operation) (*operation, error) {
	o := &operation{}
	o.throttled, _ = op.Extensions["x-throttled"].(bool)
	if op.Security != nil && len(*op.Security) > 0 {
		o.session = sessionRequired
	}
	if v, _ := op.Extensions["x-anonymous-only"].(bool); v {
		if o.session == sessionRequired {
			return nil, fmt.Errorf("x-anonymous-only with a security requirement")
		}
		o.session = sessionRefused
	}
	switch role := op.Extensions["x-required-role"]; role {
	case nil:
	case "admin", "super_admin":
		if o.session != sessionRequired {
			return nil, fmt.Errorf("x-required-role without a security requirement")
		}
		o.action = account.ActionViewUsers
		if role == "super_admin" {
			o.action = account.ActionReadAudit
		}
	default:
		return nil, fmt.Errorf("x-required-role %v: only admin and super_admin are known", role)
	}
	for _, p := range append(item.Parameters, op.Parameters...) {
		if p.Value.In != openapi3.ParameterInPath && p.Value.In != openapi3.ParameterInQuery {
			continue
		}
		r, err := compileParam(p.Value)
		if err != nil {
			return nil, err
		}
		if r.query {
			o.query = append(o.query, r)
		} else {
			o.path = append(o.path, r)
		}
	}
	if v, ok := op.Extensions["x-if-match"]; ok {
		if v != "required" {
			return nil, fmt.Errorf("x-if-match %v: only required is known", v)
		}
		o.ifMatchRequired = true
	}
	if op.RequestBody != nil {
		content := op.RequestBody.Value.Content
		name, mt := mediaJSON, content.Get(mediaJSON)
		if mt == nil {
			name, mt = mediaMergePatch, content.Get(mediaMergePatch)
		}
		if mt == nil || len(content) != 1 {
			return nil, fmt.Errorf("a request body must be one of %s or %s, only", mediaJSON, mediaMergePatch)
		}
		b, err := compileBody(mt.Schema.Value, name)
		if err != nil {
			return nil, fmt.Errorf("request body: %w", err)
		}
		o.body = b
	}
	return o, nil
}

// userParameter is the name of the path parameter that holds a user's id
// (a reference to #/components/parameters/UserID), "" when none does.
func userParameter(params openapi3.Parameters) string {
	for _, p := range params {
		if p.Ref == "#/components/parameters/UserID" && p.Value.In == openapi3.ParameterInPath {
			return p.Value.Name
		}
	}
	return ""
}

// ginRoute turns an OpenAPI path template into Gin's.
func ginRoute(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			parts[i] = ":" + p[1:len(p)-1]
		}
	}
	return strings.Join(parts, "/")
}
