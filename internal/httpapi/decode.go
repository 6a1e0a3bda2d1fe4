package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json/jsontext"

	"accounts/internal/account"
)

// maxFieldErrors is how many fields one problem names; the rest are
// counted in one last entry ("and N more"), so that the answer stays small
// whatever the body.
const maxFieldErrors = 20

// maxDepth bounds how deeply a body nests arrays and objects. Every body
// of the API is flat, so a deeper value is wrong anyway; the bound only
// keeps its refusal cheap.
const maxDepth = 32

// readBody reads the request body strictly, in one pass: the body must be
// of the operation's media type, at most MaxBodyBytes, arrive in time
// (readRaw), valid UTF-8, one JSON object
// with nothing after it, holding only members of rule, each once and in
// its exact letter case. It returns the members it read; readBody does
// not check their values (bodyOf does). Each failure is a 4xx problem
// naming the fields where there are some, and costs time linear in the
// body and an answer of bounded size.
func (s *server) readBody(c *gin.Context, rule *bodyRule) (map[string]any, error) {
	if mediaType(c.GetHeader("Content-Type")) != rule.mediaType {
		return nil, account.Errorf(account.CodeUnsupportedMediaType, "the body must be sent as Content-Type: %s", rule.mediaType)
	}
	raw, err := s.readRaw(c)
	if err != nil {
		return nil, err
	}
	// A decoder would turn each invalid byte into U+FFFD, so that two
	// different byte strings became one password.
	if !utf8.Valid(raw) {
		return nil, account.Errorf(account.CodeInvalidJSON, "the body is not valid UTF-8")
	}
	return parseBody(raw, rule)
}

// parseBody parses raw, a body already read and valid UTF-8, as readBody
// describes.
func parseBody(raw []byte, rule *bodyRule) (map[string]any, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, syntaxError(err)
	}
	if tok.Kind() != '{' {
		return nil, account.Errorf(account.CodeInvalidJSON, "the body must be a JSON object, not %s", kindWords(tok.Kind()))
	}
	members, unknown, err := readMembers(dec, rule)
	if err != nil {
		return nil, syntaxError(err)
	}
	// One value only: trailing data is as suspect as a malformed body.
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, account.Errorf(account.CodeInvalidJSON, "the body must hold exactly one JSON object, with nothing after it")
	}
	if unknown.n > 0 {
		return members, unknown
	}
	return members, nil
}

// unknownMembers is the members of a body that its schema does not have:
// the first maxFieldErrors names, as echo repeats them, and how many there
// are in all.
type unknownMembers struct {
	names []string
	n     int
}

func (u *unknownMembers) Error() string { return "the body has members its schema does not" }

// readMembers reads the members of the object whose '{' dec has just
// read, through its '}'. A member of rule in another letter case, or one
// given twice, ends the read with that error: encoding/json would take the
// last of the duplicates and match names without regard to case, so a
// body could say one thing to a proxy or a log and another to the service.
// Members rule does not have are counted and skipped, whatever their
// number, and never decoded.
func readMembers(dec *jsontext.Decoder, rule *bodyRule) (map[string]any, *unknownMembers, error) {
	members := make(map[string]any, len(rule.names))
	unknown := &unknownMembers{}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, nil, err
		}
		name := tok.String()
		i := slices.IndexFunc(rule.names, func(n string) bool { return strings.EqualFold(n, name) })
		switch {
		case i < 0:
			unknown.n++
			if len(unknown.names) < maxFieldErrors {
				unknown.names = append(unknown.names, echo(name))
			}
			if err := skipValue(dec); err != nil {
				return nil, nil, err
			}
			continue
		case name != rule.names[i]:
			return nil, nil, keyError(echo(name), fmt.Sprintf("is not a known field; the field is %q", rule.names[i]))
		}
		if _, seen := members[name]; seen {
			return nil, nil, keyError(name, "appears more than once")
		}
		if members[name], err = readValue(dec); err != nil {
			return nil, nil, err
		}
	}
	_, err := dec.ReadToken()
	return members, unknown, err
}

// readValue reads one member's value: a string, float64, bool or nil, or
// the Kind of an array or object, which it skips.
func readValue(dec *jsontext.Decoder) (any, error) {
	switch k := dec.PeekKind(); k {
	case '{', '[':
		return k, skipValue(dec)
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '"':
		return tok.String(), nil
	case '0':
		return tok.Float(), nil
	case 't', 'f':
		return tok.Bool(), nil
	}
	return nil, nil
}

// skipValue reads past the next value, refusing one that nests deeper
// than maxDepth.
func skipValue(dec *jsontext.Decoder) error {
	base := dec.StackDepth()
	for {
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		switch d := dec.StackDepth(); {
		case d > maxDepth:
			return errTooDeep
		case d == base:
			return nil
		}
	}
}

var errTooDeep = account.Errorf(account.CodeInvalidJSON, "the body nests arrays or objects deeper than %d levels", maxDepth)

func keyError(key, msg string) error {
	e := account.Errorf(account.CodeInvalidJSON, "the body is not valid for this endpoint: %q %s", key, msg)
	e.Fields = []account.FieldError{{Field: key, Message: msg}}
	return e
}

// kindWords names a JSON kind for a client.
func kindWords(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '[':
		return "an array"
	}
	return "an object"
}

func tooLarge(limit int64) error {
	return account.Errorf(account.CodeBodyTooLarge, "the body is larger than %d bytes", limit)
}

// syntaxError says what is wrong with a body that is not JSON.
func syntaxError(err error) error {
	var (
		syntax *jsontext.SyntacticError
		coded  *account.Error
	)
	switch {
	case errors.As(err, &coded):
		return coded
	case errors.Is(err, io.EOF):
		return account.Errorf(account.CodeInvalidJSON, "the body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return account.Errorf(account.CodeInvalidJSON, "the body is truncated JSON")
	case errors.As(err, &syntax):
		return account.Errorf(account.CodeInvalidJSON, "the body is malformed JSON at byte %d", syntax.ByteOffset)
	}
	return account.Errorf(account.CodeInvalidJSON, "the body is not valid JSON")
}

// The media types of request bodies: JSON, and a JSON merge patch
// (RFC 7396) for PATCH.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// mediaType returns the media type of a Content-Type, without its
// parameters (charset), in lower case; "" when it does not parse.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return mt
}
