package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

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
