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

func decodeRaw(t testing.TB, contentType string, body []byte, dst any) error {
	t.Helper()
	s := &server{Deps: Deps{Config: Config{MaxBodyBytes: 1 << 10}}}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if contentType != "" {
		c.Request.Header.Set("Content-Type", contentType)
	}
	return s.decodeJSON(c, dst)
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ct, body string
		code     account.Code
		field    string
	}{
		{"application/json", `{"username":"a","password":"b"}`, "", ""},
		{"application/json; charset=utf-8", `{"username":"a"}`, "", ""},
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
		var req SignUpRequest
		err := decodeRaw(t, c.ct, []byte(c.body), &req)
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
		for _, dst := range []any{new(any), &SignUpRequest{}, &LoginRequest{}, &CreateUserRequest{}, &ChangePasswordRequest{}, &SetPasswordRequest{}} {
			err := decodeRaw(t, "application/json", []byte(body), dst)
			switch account.ErrorCode(err) {
			case "", account.CodeInvalidJSON, account.CodeBodyTooLarge:
			default:
				t.Fatalf("body %q: %v", body, err)
			}
		}
	})
}
