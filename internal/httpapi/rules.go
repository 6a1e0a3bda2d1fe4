package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// The rules below are what openapi.yaml says of request values, compiled
// once at start-up: a request costs the checks, not a walk through the
// document. They understand only the keywords the document uses on
// request values; compileValue refuses a schema with any other keyword, so
// that the document cannot state a rule the service would not enforce.

// valueKeywords are the JSON Schema keywords a compiled request value may
// carry. Annotations and x- extensions are allowed too.
var valueKeywords = map[string]bool{
	"type": true, "format": true, "enum": true, "default": true, "pattern": true,
	"minLength": true, "maxLength": true, "minimum": true, "maximum": true,
	"description": true, "title": true, "example": true, "examples": true, "deprecated": true,
}

// valueRule is the compiled schema of one scalar: a parameter or a member
// of a request body.
type valueRule struct {
	typ                  string // string, integer, number or boolean
	nullable             bool   // a JSON null is a value too (type [T, 'null'])
	format               string // uuid or date-time, "" for none
	enum                 []string
	minLength, maxLength int // in characters; maxLength -1 for none
	minimum, maximum     *float64
	pattern              *regexp.Regexp
	// patternWords says what the pattern asks, for the client: the
	// schema's description, never the expression.
	patternWords string
	// dflt is the default as query text, "" for none.
	dflt string
}

func compileValue(s *openapi3.Schema) (*valueRule, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, err
	}
	for k := range keys {
		if !valueKeywords[k] && !strings.HasPrefix(k, "x-") {
			return nil, fmt.Errorf("the keyword %q is not one the request checks understand", k)
		}
	}
	typ, nullable, err := scalarType(s.Type)
	if err != nil {
		return nil, err
	}
	r := &valueRule{typ: typ, nullable: nullable, format: s.Format, minLength: int(s.MinLength), maxLength: -1,
		minimum: s.Min, maximum: s.Max}
	switch r.typ {
	case openapi3.TypeString, openapi3.TypeInteger, openapi3.TypeNumber, openapi3.TypeBoolean:
	default:
		return nil, fmt.Errorf("type %s is not a scalar", r.typ)
	}
	switch r.format {
	case "", "uuid", "date-time", "password":
	default:
		return nil, fmt.Errorf("format %q is not one the request checks understand", r.format)
	}
	if s.MaxLength != nil {
		r.maxLength = int(*s.MaxLength)
	}
	for _, v := range s.Enum {
		r.enum = append(r.enum, fmt.Sprint(v))
	}
	if s.Pattern != "" {
		if r.pattern, err = regexp.Compile(s.Pattern); err != nil {
			return nil, err
		}
		// A uuid's pattern says what its format says, and is worded so.
		if r.patternWords = s.Description; r.format != "uuid" && r.patternWords == "" {
			return nil, fmt.Errorf("a pattern needs a description, which is what a client is told")
		}
	}
	if s.Default != nil {
		r.dflt = fmt.Sprint(s.Default)
	}
	return r, nil
}

// scalarType reads a value's type: exactly one, or one and 'null'.
func scalarType(t *openapi3.Types) (typ string, nullable bool, err error) {
	if t == nil {
		return "", false, fmt.Errorf("a request value needs a type")
	}
	types := t.Slice()
	if len(types) == 2 && slices.Contains(types, openapi3.TypeNull) {
		nullable = true
		types = slices.DeleteFunc(slices.Clone(types), func(s string) bool { return s == openapi3.TypeNull })
	}
	if len(types) != 1 {
		return "", false, fmt.Errorf("a request value needs exactly one type, or one and null")
	}
	return types[0], nullable, nil
}

// checkText checks a parameter's text: it is parsed as the rule's type,
// then checked. It returns what is wrong, "" for nothing.
func (r *valueRule) checkText(text string) string {
	if text == "" {
		return "must not be empty"
	}
	switch r.typ {
	case openapi3.TypeInteger:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return "must be an integer"
		}
		return r.checkNumber(float64(n))
	case openapi3.TypeNumber:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "must be a number"
		}
		return r.checkNumber(f)
	case openapi3.TypeBoolean:
		if _, err := strconv.ParseBool(text); err != nil {
			return "must be a boolean"
		}
		return ""
	}
	return r.checkString(text)
}

// checkJSON checks a member of a body. The value is what readBody decoded:
// string, float64, bool, nil, or a kind for an array or object. A value of
// the wrong type is a malformed body (shape true); any other broken rule
// is not.
func (r *valueRule) checkJSON(v any) (msg string, shape bool) {
	switch v := v.(type) {
	case string:
		if r.typ == openapi3.TypeString {
			return r.checkString(v), false
		}
	case float64:
		if r.typ == openapi3.TypeNumber || r.typ == openapi3.TypeInteger && v == math.Trunc(v) {
			return r.checkNumber(v), false
		}
	case bool:
		if r.typ == openapi3.TypeBoolean {
			return "", false
		}
	case nil:
		if r.nullable {
			return "", false
		}
	}
	return fmt.Sprintf("must be %s, not %s", article(r.typ), jsonKind(v)), true
}

func (r *valueRule) checkString(s string) string {
	if len(r.enum) > 0 && !slices.Contains(r.enum, s) {
		return "must be one of " + strings.Join(r.enum, ", ")
	}
	if n := utf8.RuneCountInString(s); n < r.minLength {
		return fmt.Sprintf("must be at least %d characters", r.minLength)
	} else if r.maxLength >= 0 && n > r.maxLength {
		return fmt.Sprintf("must be at most %d characters", r.maxLength)
	}
	switch r.format {
	case "uuid":
		if !isUUID(s) {
			return "must be a UUID"
		}
	case "date-time":
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return "must be an RFC 3339 date-time"
		}
	}
	if r.pattern != nil && !r.pattern.MatchString(s) {
		if r.format == "uuid" {
			return "must be a UUID"
		}
		return "must be " + r.patternWords
	}
	return ""
}

func (r *valueRule) checkNumber(f float64) string {
	if len(r.enum) > 0 && !slices.Contains(r.enum, strconv.FormatFloat(f, 'f', -1, 64)) {
		return "must be one of " + strings.Join(r.enum, ", ")
	}
	if r.minimum != nil && f < *r.minimum {
		return "must be at least " + strconv.FormatFloat(*r.minimum, 'f', -1, 64)
	}
	if r.maximum != nil && f > *r.maximum {
		return "must be at most " + strconv.FormatFloat(*r.maximum, 'f', -1, 64)
	}
	return ""
}

// isUUID reports whether s is a UUID in its canonical 36-character form,
// in either letter case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// paramRule is one path or query parameter of an operation.
type paramRule struct {
	name     string
	query    bool // in the query; else in the path
	required bool
	value    *valueRule
}

func compileParam(p *openapi3.Parameter) (*paramRule, error) {
	if p.Schema == nil {
		return nil, fmt.Errorf("parameter %s has no schema", p.Name)
	}
	v, err := compileValue(p.Schema.Value)
	if err != nil {
		return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
	}
	return &paramRule{name: p.Name, query: p.In == openapi3.ParameterInQuery, required: p.Required, value: v}, nil
}

// bodyRule is the compiled schema of a request body: an object of scalar
// members, with no others (additionalProperties: false).
type bodyRule struct {
	// mediaType is the one Content-Type the body is sent as.
	mediaType string
	// names are the members in the order of the document's required
	// list, then by name; errors are listed in this order.
	names    []string
	members  []*valueRule
	required []bool
}

func compileBody(s *openapi3.Schema, mediaType string) (*bodyRule, error) {
	if s.Type == nil || !s.Type.Is(openapi3.TypeObject) || s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has ||
		s.AdditionalProperties.Schema != nil {
		return nil, fmt.Errorf("a request body must be an object with additionalProperties: false")
	}
	b := &bodyRule{mediaType: mediaType, names: slices.Clone(s.Required)}
	for name := range s.Properties {
		if !slices.Contains(b.names, name) {
			b.names = append(b.names, name)
		}
	}
	slices.Sort(b.names[len(s.Required):])
	for _, name := range b.names {
		p, ok := s.Properties[name]
		if !ok {
			return nil, fmt.Errorf("required member %s is not a property", name)
		}
		v, err := compileValue(p.Value)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", name, err)
		}
		b.members = append(b.members, v)
		b.required = append(b.required, slices.Contains(s.Required, name))
	}
	return b, nil
}
