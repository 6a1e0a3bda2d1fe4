package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// decodeRaw reads and checks body as the body of the document's schema
// named schema.
func decodeRaw(t testing.TB, contentType string, body []byte, schema string) error {
	t.Helper()
	doc, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	rule, err := compileBody(doc.Components.Schemas[schema].Value, mediaJSON)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Deps: Deps{Config: Config{MaxBodyBytes: 1 << 10}}}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if contentType != "" {
		c.Request.Header.Set("Content-Type", contentType)
	}
	_, err = s.bodyOf(c, rule)
	return err
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ct, body string
		code     account.Code
		field    string
	}{
		{"application/json", `{"username":"alice","password":"alice-password"}`, "", ""},
		{"application/json; charset=utf-8", `{"username":"alice","password":"alice-password"}`, "", ""},
		{"", `{}`, account.CodeUnsupportedMediaType, ""},
		{"text/plain", `{}`, account.CodeUnsupportedMediaType, ""},
		{"application/json", ``, account.CodeInvalidJSON, ""},
		{"application/json", `{"username":1}`, account.CodeInvalidJSON, "username"},
		{"application/json", `{"role":"x"}`, account.CodeInvalidJSON, "role"},
		{"application/json", `{"username":"a"}{}`, account.CodeInvalidJSON, ""},
		{"application/json", `[1]`, account.CodeInvalidJSON, ""},
		{"application/json", `{"username":"` + string(bytes.Repeat([]byte("x"), 2000)) + `"}`, account.CodeBodyTooLarge, ""},
	}
	for _, c := range cases {
		err := decodeRaw(t, c.ct, []byte(c.body), "SignUpRequest")
		if got := account.ErrorCode(err); got != c.code {
			t.Errorf("%q %q: code %q, want %q (%v)", c.ct, c.body, got, c.code, err)
			continue
		}
		var e *account.Error
		if c.field != "" && (!errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != c.field) {
			t.Errorf("%q: error %v does not name field %q", c.body, err, c.field)
		}
	}
}

// FuzzDecodeJSON: whatever the body, decoding either succeeds or fails
// with a client error code (never internal, never a panic), for every
// request type of the API.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{}`, `{"username":"a","password":"b"}`, `{"role":null}`, `[`, `{"a":1}`, `"x"`, `{"current_password":1e400}`, "\xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, schema := range []string{"SignUpRequest", "LoginRequest", "CreateUserRequest", "ChangePasswordRequest", "SetPasswordRequest"} {
			err := decodeRaw(t, "application/json", []byte(body), schema)
			switch account.ErrorCode(err) {
			case "", account.CodeInvalidJSON, account.CodeBodyTooLarge, account.CodeValidationFailed:
			default:
				t.Fatalf("body %q: %v", body, err)
			}
		}
	})
}
