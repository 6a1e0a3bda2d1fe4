package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// decodeJSON reads the request body into dst strictly: the body must be
// application/json, at most MaxBodyBytes, valid UTF-8, one JSON object with
// only known fields, each once and in its exact letter case, of the right
// types and nothing after it. Each failure is a 4xx problem naming the
// field where there is one, never a 500, and comes before any work (such
// as hashing a password) is done.
func (s *server) decodeJSON(c *gin.Context, dst any) error {
	if !isJSON(c.GetHeader("Content-Type")) {
		return account.Errorf(account.CodeUnsupportedMediaType, "the body must be sent as Content-Type: application/json")
	}
	if c.Request.ContentLength > s.MaxBodyBytes {
		return tooLarge(s.MaxBodyBytes)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.MaxBodyBytes))
	if err != nil {
		return s.jsonError(err)
	}
	// encoding/json would turn each invalid byte into U+FFFD, so that two
	// different byte strings became one password.
	if !utf8.Valid(raw) {
		return account.Errorf(account.CodeInvalidJSON, "the body is not valid UTF-8")
	}
	if err := checkKeys(raw, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return s.jsonError(err)
	}
	// One value only: trailing data is as suspect as a malformed body.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return account.Errorf(account.CodeInvalidJSON, "the body must hold exactly one JSON object, with nothing after it")
	}
	return nil
}

// checkKeys refuses a key that appears twice in one object, in any letter
// case, and a top-level key that names a field of dst in another letter
// case: encoding/json would take the last of the duplicates and match
// names without regard to case, so a body could say one thing to a proxy
// or a log and another to the service. Malformed JSON is left to the
// decoder, which reports where.
func checkKeys(raw []byte, dst any) error {
	fields := jsonFields(dst)
	type object struct {
		keys    map[string]bool
		wantKey bool
	}
	var stack []*object // nil entries are arrays
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &object{keys: map[string]bool{}, wantKey: true})
			case '[':
				stack = append(stack, nil)
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1] != nil {
					stack[len(stack)-1].wantKey = true
				}
			}
		case string:
			if top == nil || !top.wantKey {
				if top != nil {
					top.wantKey = true
				}
				continue
			}
			folded := strings.ToLower(strings.ToUpper(v))
			if top.keys[folded] {
				return keyError(v, "appears more than once")
			}
			top.keys[folded] = true
			top.wantKey = false
			if len(stack) == 1 {
				for _, f := range fields {
					if f != v && strings.EqualFold(f, v) {
						return keyError(v, fmt.Sprintf("is not a known field; the field is %q", f))
					}
				}
			}
		default:
			if top != nil {
				top.wantKey = true
			}
		}
	}
}

func keyError(key, msg string) error {
	e := account.Errorf(account.CodeInvalidJSON, "the body is not valid for this endpoint: %q %s", key, msg)
	e.Fields = []account.FieldError{{Field: key, Message: msg}}
	return e
}

// jsonFields lists the JSON names of the fields of the struct dst points
// to.
func jsonFields(dst any) []string {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" {
			name = t.Field(i).Name
		}
		names = append(names, name)
	}
	return names
}

func tooLarge(limit int64) error {
	return account.Errorf(account.CodeBodyTooLarge, "the body is larger than %d bytes", limit)
}

func (s *server) jsonError(err error) error {
	var (
		mbe    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	invalid := func(field, format string, args ...any) error {
		e := account.Errorf(account.CodeInvalidJSON, "the body is not valid for this endpoint: "+format, args...)
		if field != "" {
			e.Fields = []account.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}
		}
		return e
	}
	switch {
	case errors.As(err, &mbe):
		return tooLarge(s.MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return account.Errorf(account.CodeInvalidJSON, "the body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return account.Errorf(account.CodeInvalidJSON, "the body is truncated JSON")
	case errors.As(err, &syntax):
		return account.Errorf(account.CodeInvalidJSON, "the body is malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return account.Errorf(account.CodeInvalidJSON, "the body must be a JSON object, not %s", typ.Value)
		}
		return invalid(typ.Field, "must be a %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json reports unknown fields only in its message.
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return invalid(name, "is not a known field")
	}
	return account.Errorf(account.CodeInvalidJSON, "the body is not valid JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	}
	return "number"
}

// isJSON reports whether a Content-Type is application/json, with any
// parameters (charset).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}
