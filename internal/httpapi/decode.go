package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"accounts/internal/account"
)

// decodeJSON reads the request body into dst strictly: the body must be
// application/json, at most MaxBodyBytes, one JSON object with only known
// fields of the right types and nothing after it. Each failure is a 4xx
// problem naming the field where there is one, never a 500.
func (s *server) decodeJSON(c *gin.Context, dst any) error {
	if !isJSON(c.GetHeader("Content-Type")) {
		return account.Errorf(account.CodeUnsupportedMediaType, "the body must be sent as Content-Type: application/json")
	}
	if c.Request.ContentLength > s.MaxBodyBytes {
		return tooLarge(s.MaxBodyBytes)
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, s.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return s.jsonError(err)
	}
	// One value only: trailing data is as suspect as a malformed body.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(s.MaxBodyBytes)
		}
		return account.Errorf(account.CodeInvalidJSON, "the body must hold exactly one JSON object, with nothing after it")
	}
	return nil
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

// idKey holds the parsed path id in the gin context.
const idKey = "httpapi.id"

// pathID validates the :id path parameter as a canonical UUID before any
// query is made, answering 422 for anything else.
func (s *server) pathID(c *gin.Context) {
	raw := c.Param("id")
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		s.writeError(c, &account.Error{
			Code:    account.CodeValidationFailed,
			Message: "the path holds a malformed user id",
			Fields:  []account.FieldError{{Field: "id", Message: "must be a UUID like 0192d4e0-7c1a-7b3e-9f00-123456789abc"}},
		})
		return
	}
	c.Set(idKey, id)
	c.Next()
}

func idOf(c *gin.Context) uuid.UUID {
	id, _ := c.Get(idKey)
	return id.(uuid.UUID)
}

// listParams reads the query of GET /users; each malformed parameter is
// one entry of a 422.
func listParams(c *gin.Context) (account.ListParams, error) {
	p := account.ListParams{Limit: 20, Sort: "username"}
	var fields []account.FieldError
	bad := func(field, msg string) { fields = append(fields, account.FieldError{Field: field, Message: msg}) }
	q := c.Request.URL.Query()
	if v := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil {
			bad("limit", "must be a whole number between 1 and 100")
		} else {
			p.Limit = n
		}
	}
	if v := q.Get("offset"); q.Has("offset") {
		n, err := strconv.Atoi(v)
		if err != nil {
			bad("offset", "must be a whole number, 0 or more")
		} else {
			p.Offset = n
		}
	}
	if q.Has("sort") {
		p.Sort = q.Get("sort")
	}
	p.After = q.Get("after")
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		p.Desc = true
	default:
		bad("order", "must be asc or desc")
	}
	if v := q.Get("role"); v != "" {
		r := account.Role(v)
		p.Role = &r
	}
	switch v := q.Get("is_active"); v {
	case "":
	case "true", "false":
		b := v == "true"
		p.IsActive = &b
	default:
		bad("is_active", "must be true or false")
	}
	if err := p.Validate(); err != nil {
		var e *account.Error
		if errors.As(err, &e) {
			for _, f := range e.Fields {
				// A parameter that did not parse is reported once, as such.
				if !slices.ContainsFunc(fields, func(e account.FieldError) bool { return e.Field == f.Field }) {
					fields = append(fields, f)
				}
			}
		}
	}
	if len(fields) > 0 {
		return p, &account.Error{Code: account.CodeValidationFailed, Message: "the query has invalid parameters", Fields: fields}
	}
	return p, nil
}
