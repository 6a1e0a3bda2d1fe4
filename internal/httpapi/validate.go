package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// The middleware below stands between the router and the generated
// handlers and applies openapi.yaml to each request, in this order:
//
//  1. path parameters (so a malformed id costs no session lookup);
//  2. the session the operation's security asks for, or its absence for
//     x-anonymous-only operations;
//  3. x-required-role, so a plain user learns nothing from the checks of
//     what they sent;
//  4. query parameters, then the body: strictly decoded as JSON (decode.go)
//     and validated against the operation's schema.
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

func (s *server) requestInput(c *gin.Context, op *operation) *openapi3filter.RequestValidationInput {
	params := make(map[string]string, len(c.Params))
	for _, p := range c.Params {
		params[p.Key] = p.Value
	}
	return &openapi3filter.RequestValidationInput{
		Request:    c.Request,
		PathParams: params,
		Route:      op.route,
		Options:    &openapi3filter.Options{MultiError: true},
	}
}

func (s *server) checkPath(c *gin.Context) {
	if op := s.operationOf(c); op != nil && len(op.path) > 0 {
		s.checkParameters(c, op, op.path)
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

func (s *server) checkRole(c *gin.Context) {
	op := s.operationOf(c)
	if op == nil || op.role == "" {
		return
	}
	switch caller := principalOf(c).User; op.role {
	case account.RoleAdmin:
		if err := account.Authorize(caller, account.ActionViewUsers, account.User{}); err != nil {
			s.writeError(c, err)
		}
	case account.RoleSuperAdmin:
		if !caller.IsActive || caller.Role != account.RoleSuperAdmin {
			s.writeError(c, account.Errorf(account.CodeForbidden, "only a super admin may do this"))
		}
	}
}

func (s *server) checkRequest(c *gin.Context) {
	op := s.operationOf(c)
	if op == nil {
		return
	}
	if len(op.query) > 0 && !s.checkParameters(c, op, op.query) {
		return
	}
	if op.body != nil {
		s.checkBody(c, op)
	}
}

// checkParameters validates params of the request; every invalid one is a
// field of one 422.
func (s *server) checkParameters(c *gin.Context, op *operation, params openapi3.Parameters) bool {
	in := s.requestInput(c, op)
	var fields []account.FieldError
	for _, p := range params {
		if p.Value.In == openapi3.ParameterInQuery && len(c.Request.URL.Query()[p.Value.Name]) > 1 {
			fields = append(fields, account.FieldError{Field: p.Value.Name, Message: "must be given once"})
			continue
		}
		if err := openapi3filter.ValidateParameter(c.Request.Context(), in, p.Value); err != nil {
			fields = append(fields, account.FieldError{Field: p.Value.Name, Message: parameterMessage(p.Value, err)})
		}
	}
	if len(fields) > 0 {
		s.writeError(c, &account.Error{Code: account.CodeValidationFailed, Message: "the request has invalid parameters", Fields: fields})
		return false
	}
	return true
}

// parameterMessage says what is wrong with a parameter's value.
func parameterMessage(p *openapi3.Parameter, err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return schemaMessage(se)
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) && p.Schema != nil && p.Schema.Value.Type != nil {
		return "must be " + article(p.Schema.Value.Type.Slice()[0])
	}
	if errors.Is(err, openapi3filter.ErrInvalidEmptyValue) {
		return "must not be empty"
	}
	return "is not valid"
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

// checkBody decodes the body strictly and validates it against the
// operation's schema: a body of the wrong shape (not an object, unknown
// fields, wrong types) is 400 invalid_json, one of the right shape that
// breaks a rule (missing field, length, pattern, enum) is 422
// validation_failed; either names every field.
func (s *server) checkBody(c *gin.Context, op *operation) {
	var v any
	if err := s.decodeJSON(c, &v); err != nil {
		s.writeError(c, err)
		return
	}
	err := op.body.VisitJSON(v, openapi3.MultiErrors())
	if err != nil {
		s.writeError(c, bodyError(op.body, err))
		return
	}
	c.Request.Body = validatedBody{ReadCloser: c.Request.Body, value: v}
}

// bodyError turns the schema errors of a body into one problem with one
// message per field. Fields are listed in the order of the schema's
// required list, then by name.
func bodyError(schema *openapi3.Schema, err error) error {
	var shape, rules []account.FieldError
	add := func(list *[]account.FieldError, field, msg string) {
		if !slices.ContainsFunc(shape, func(f account.FieldError) bool { return f.Field == field }) &&
			!slices.ContainsFunc(rules, func(f account.FieldError) bool { return f.Field == field }) {
			*list = append(*list, account.FieldError{Field: field, Message: msg})
		}
	}
	for _, se := range schemaErrors(err) {
		field := strings.Join(se.JSONPointer(), ".")
		if se.SchemaField == "type" || wrongType(se) {
			se.SchemaField = "type"
		}
		switch {
		case field == "" && se.SchemaField == "type":
			return account.Errorf(account.CodeInvalidJSON, "the body must be a JSON object, not %s", jsonKind(se.Value))
		case se.SchemaField == "type":
			add(&shape, field, schemaMessage(se))
		case se.SchemaField == "properties" && strings.HasSuffix(se.Reason, "is unsupported"):
			// kin-openapi names an unknown property only in its reason.
			add(&shape, strings.TrimPrefix(field+"."+quotedName(se.Reason), "."), "is not a known field")
		case se.SchemaField == "required":
			add(&rules, field, "is required")
		default:
			add(&rules, field, schemaMessage(se))
		}
	}
	order := func(a, b account.FieldError) int {
		rank := func(f account.FieldError) int {
			if i := slices.Index(schema.Required, f.Field); i >= 0 {
				return i
			}
			return len(schema.Required)
		}
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.Field, b.Field)
	}
	if len(shape) > 0 {
		slices.SortStableFunc(shape, order)
		e := account.Errorf(account.CodeInvalidJSON, "the body is not valid for this endpoint: %s %s", shape[0].Field, shape[0].Message)
		e.Fields = shape
		return e
	}
	slices.SortStableFunc(rules, order)
	return &account.Error{Code: account.CodeValidationFailed, Message: "the request has invalid fields", Fields: rules}
}

// wrongType reports whether the value of se is not of its schema's type.
func wrongType(se *openapi3.SchemaError) bool {
	// kin-openapi may report a value of the wrong type by another rule (an
	// enum, nullable), but the body is malformed all the same.
	if se.Schema == nil || se.Schema.Type == nil || se.SchemaField == "required" || se.SchemaField == "properties" {
		return false
	}
	var kind string
	switch se.Value.(type) {
	case nil:
		kind = openapi3.TypeNull
	case string:
		kind = openapi3.TypeString
	case bool:
		kind = openapi3.TypeBoolean
	case float64:
		kind = openapi3.TypeNumber
		if se.Schema.Type.Is(openapi3.TypeInteger) {
			kind = openapi3.TypeInteger
		}
	case []any:
		kind = openapi3.TypeArray
	case map[string]any:
		kind = openapi3.TypeObject
	default:
		return false
	}
	return !se.Schema.Type.Permits(kind)
}

func schemaErrors(err error) []*openapi3.SchemaError {
	var out []*openapi3.SchemaError
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			out = append(out, schemaErrors(e)...)
		}
		return out
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		out = append(out, se)
	}
	return out
}

// quotedName reads the name out of a kin-openapi reason such as
// `property "admin" is unsupported`.
func quotedName(reason string) string {
	_, rest, _ := strings.Cut(reason, `"`)
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

// schemaMessage says, in the words of the service's other messages, which
// rule of the schema a value breaks.
func schemaMessage(se *openapi3.SchemaError) string {
	s := se.Schema
	switch se.SchemaField {
	case "type":
		want := "of another type"
		if s.Type != nil && len(s.Type.Slice()) > 0 {
			want = article(s.Type.Slice()[0])
		}
		return fmt.Sprintf("must be %s, not %s", want, jsonKind(se.Value))
	case "additionalProperties":
		return "is not a known field"
	case "minLength":
		return fmt.Sprintf("must be at least %d characters", s.MinLength)
	case "maxLength":
		return fmt.Sprintf("must be at most %d characters", *s.MaxLength)
	case "minimum":
		return fmt.Sprintf("must be at least %v", *s.Min)
	case "maximum":
		return fmt.Sprintf("must be at most %v", *s.Max)
	case "enum":
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		return "must be one of " + strings.Join(vals, ", ")
	case "pattern":
		if s.Description != "" {
			return "must be " + s.Description
		}
		return "must match " + s.Pattern
	}
	return se.Reason
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

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
