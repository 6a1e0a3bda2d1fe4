package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json/jsontext"

	"accounts/internal/account"
)

// The middleware below stands between the router and the generated
// handlers and applies openapi.yaml to each request, through the rules
// compiled from it at start-up (rules.go), in this order:
//
//  1. path parameters (so a malformed id costs no session lookup);
//  2. the session the operation's security asks for, or its absence for
//     x-anonymous-only operations;
//  3. x-required-role, through account.Authorize, so a plain user learns
//     nothing from the checks of what they sent;
//  4. query parameters (one the operation does not document is refused,
//     as an unknown body member is), If-Match (handed to the domain; 428
//     where x-if-match requires it), then the body: read once as JSON or
//     a JSON merge patch (decode.go) and checked against the operation's
//     schema.
//
// Each answers a problem and aborts on failure. An operation the document
// does not have (no route matched) passes through untouched.

// operationOf returns the document's operation for the matched route, or
// nil. HEAD is checked as the GET it stands for (addHeadRoutes).
func (s *server) operationOf(c *gin.Context) *operation {
	method := c.Request.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	return s.ops[routeKey{method, c.FullPath()}]
}

func (s *server) checkPath(c *gin.Context) {
	if op := s.operationOf(c); op != nil && len(op.path) > 0 {
		s.checkParameters(c, op.path)
	}
}

func (s *server) checkSession(c *gin.Context) {
	op := s.operationOf(c)
	switch {
	case op == nil:
	case op.session == sessionRequired:
		s.requireSession(c)
	case op.session == sessionRefused:
		s.requireAnonymous(c)
	}
}

// checkRole is the API's one authorization decision on the caller: the
// action x-required-role names, before any parameter or body is read.
// Decisions on a target (its role, whether it is the caller) are the
// domain's, on the rows it locks for the change.
func (s *server) checkRole(c *gin.Context) {
	if op := s.operationOf(c); op != nil && op.action != "" {
		if err := account.Authorize(principalOf(c).User, op.action, account.User{}); err != nil {
			s.writeError(c, err)
		}
	}
}

func (s *server) checkRequest(c *gin.Context) {
	op := s.operationOf(c)
	if op == nil {
		return
	}
	if !s.checkKnownParameters(c, op.query) {
		return
	}
	if !s.checkIfMatch(c, op) {
		return
	}
	if len(op.query) > 0 && !s.checkParameters(c, op.query) {
		return
	}
	if op.body != nil {
		s.checkBody(c, op)
	}
}

// checkIfMatch hands a request's If-Match to the domain, which holds it
// against the user on the row it locks for the write (a check here would
// race with other writes), and refuses a request without one where the
// operation requires it (x-if-match: required).
func (s *server) checkIfMatch(c *gin.Context, op *operation) bool {
	h := c.GetHeader("If-Match")
	if h == "" {
		if op.ifMatchRequired {
			s.writeError(c, account.Errorf(account.CodePreconditionRequired,
				"this change needs the user's ETag as If-Match: read the user (GET) and send the ETag it answered"))
			return false
		}
		return true
	}
	c.Request = c.Request.WithContext(account.WithPrecondition(c.Request.Context(), account.ParseIfMatch(h)))
	return true
}

// malformedQuery is what a query string that does not parse is told: its
// pairs could not be told apart, so none is taken.
const malformedQuery = "is malformed: a bad %-escape or a ';' (escape % as %25 and ; as %3B)"

// checkKnownParameters refuses a query parameter the operation does not
// document, as readBody refuses an unknown member: a misspelled filter
// (rolee=admin) would otherwise answer as if there were none, and a
// client could not tell. The names, sorted, are the fields of one 422
// (at most maxFieldErrors, then how many more).
func (s *server) checkKnownParameters(c *gin.Context, params []*paramRule) bool {
	if c.Request.URL.RawQuery == "" {
		return true
	}
	query, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.writeError(c, &account.Error{Code: account.CodeValidationFailed, Message: "the query string is malformed",
			Fields: []account.FieldError{{Field: "query", Message: malformedQuery}}})
		return false
	}
	var unknown []string
	for name := range query {
		if !slices.ContainsFunc(params, func(p *paramRule) bool { return p.query && p.name == name }) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return true
	}
	slices.Sort(unknown)
	fields := make([]account.FieldError, 0, min(len(unknown), maxFieldErrors)+1)
	for _, name := range unknown[:min(len(unknown), maxFieldErrors)] {
		fields = append(fields, account.FieldError{Field: name, Message: "is not a known parameter"})
	}
	if len(unknown) > maxFieldErrors {
		fields = append(fields, account.FieldError{Message: fmt.Sprintf("and %d more", len(unknown)-maxFieldErrors)})
	}
	s.writeError(c, &account.Error{Code: account.CodeValidationFailed, Message: "the request has parameters this endpoint does not take", Fields: fields})
	return false
}

// checkParameters checks params of the request against their compiled
// rules; every invalid one is a field of one 422. A query parameter that
// is absent and has a default in the document gets it, so that the
// generated binding reads it.
func (s *server) checkParameters(c *gin.Context, params []*paramRule) bool {
	var query url.Values
	defaults := false
	var fields []account.FieldError
	for _, p := range params {
		var text string
		if p.query {
			if query == nil {
				query = c.Request.URL.Query()
			}
			vals, ok := query[p.name]
			switch {
			case len(vals) > 1:
				fields = append(fields, account.FieldError{Field: p.name, Message: "must be given once"})
				continue
			case !ok && p.value.dflt != "":
				query.Set(p.name, p.value.dflt)
				defaults = true
				continue
			case !ok && !p.required:
				continue
			case !ok:
				fields = append(fields, account.FieldError{Field: p.name, Message: "is required"})
				continue
			}
			text = vals[0]
		} else {
			text = c.Param(p.name)
		}
		if msg := p.value.checkText(text); msg != "" {
			fields = append(fields, account.FieldError{Field: p.name, Message: msg})
		}
	}
	if len(fields) > 0 {
		s.writeError(c, &account.Error{Code: account.CodeValidationFailed, Message: "the request has invalid parameters", Fields: fields})
		return false
	}
	if defaults {
		c.Request.URL.RawQuery = query.Encode()
	}
	return true
}

// validatedBody is a request body already decoded and validated. The
// generated handlers take its value (ValidatedValue) instead of decoding
// the body a second time.
type validatedBody struct {
	io.ReadCloser
	value any
}

// ValidatedValue returns the decoded body.
func (b validatedBody) ValidatedValue() any { return b.value }

// checkBody reads and checks the body (bodyOf) and leaves its members on
// the request for the generated handler, which binds them instead of
// decoding the body a second time.
func (s *server) checkBody(c *gin.Context, op *operation) {
	members, err := s.bodyOf(c, op.body)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Request.Body = validatedBody{ReadCloser: c.Request.Body, value: members}
}

// bodyOf reads the body (readBody) and checks each member against its
// compiled schema: a body of the wrong shape (not an object, unknown
// members, wrong types) is 400 invalid_json, one of the right shape that
// breaks a rule (missing member, length, pattern, enum) is 422
// validation_failed; either names the fields, in the order of the
// schema's required list, then by name.
func (s *server) bodyOf(c *gin.Context, rule *bodyRule) (map[string]any, error) {
	members, err := s.readBody(c, rule)
	return checkMembers(rule, members, err)
}

// checkMembers checks what readBody returned against rule.
func checkMembers(rule *bodyRule, members map[string]any, err error) (map[string]any, error) {
	var unknown *unknownMembers
	if err != nil && !errors.As(err, &unknown) {
		return nil, err
	}
	var shape, rules []account.FieldError
	if unknown != nil {
		for _, name := range unknown.names {
			shape = append(shape, account.FieldError{Field: name, Message: "is not a known field"})
		}
	}
	for i, name := range rule.names {
		v, ok := members[name]
		if !ok {
			if rule.required[i] {
				rules = append(rules, account.FieldError{Field: name, Message: "is required"})
			}
			continue
		}
		if msg, bad := rule.members[i].checkJSON(v); bad {
			shape = append(shape, account.FieldError{Field: name, Message: msg})
		} else if msg != "" {
			rules = append(rules, account.FieldError{Field: name, Message: msg})
		}
	}
	if len(shape) > 0 {
		slices.SortStableFunc(shape, rule.order)
		if unknown != nil && unknown.n > len(unknown.names) {
			shape = append(shape, account.FieldError{Message: fmt.Sprintf("and %d more", unknown.n-len(unknown.names))})
		}
		e := account.Errorf(account.CodeInvalidJSON, "the body is not valid for this endpoint: %s %s", shape[0].Field, shape[0].Message)
		e.Fields = shape
		return nil, e
	}
	if len(rules) > 0 {
		return nil, &account.Error{Code: account.CodeValidationFailed, Message: "the request has invalid fields", Fields: rules}
	}
	return members, nil
}

// order sorts field errors of the body as its names are: by the rank in
// the required list, then by name; an unknown member ranks after every
// required one.
func (b *bodyRule) order(x, y account.FieldError) int {
	rank := func(f account.FieldError) int {
		if i := slices.Index(b.names, f.Field); i >= 0 && b.required[i] {
			return i
		}
		return len(b.names)
	}
	if d := rank(x) - rank(y); d != 0 {
		return d
	}
	return strings.Compare(x.Field, y.Field)
}

func article(typ string) string {
	switch typ {
	case "integer":
		return "an integer"
	case "object", "array":
		return "an " + typ
	}
	return "a " + typ
}

// jsonKind names the kind of a value readValue returned.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case jsontext.Kind:
		return kindWords(v)
	}
	return fmt.Sprintf("%T", v)
}
