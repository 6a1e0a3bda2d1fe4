package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"accounts/internal/account"
)

// The fuzz targets of the decoders that read the URL and the headers; the
// body decoder's is FuzzDecodeJSON. `make fuzz` runs each briefly.

// listQueryParams are the parameters of GET /users.
var listQueryParams = []string{"limit", "offset", "sort", "order", "role", "is_active", "after"}

// FuzzListParams: any query string gives either parameters that pass
// Validate or a validation_failed error naming only known parameters, and
// never a panic.
func FuzzListParams(f *testing.F) {
	for _, seed := range []string{"", "limit=5&offset=3&sort=username&order=desc", "limit=x", "role=admin&is_active=true", "sort=%27;--",
		"after=eyJzIjoidXNlcm5hbWUiLCJrIjoiYSIsImlkIjoiMDE5MmQ0ZTAtN2MxYS03YjNlLTlmMDAtMTIzNDU2Nzg5YWJjIn0", "limit=1&limit=2", "%zz", "offset=-1&after=x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/api/v1/users", RawQuery: rawQuery}, Header: http.Header{}}
		p, err := listParams(c)
		if err == nil {
			if verr := p.Validate(); verr != nil {
				t.Fatalf("%q: listParams accepted what Validate refuses: %v", rawQuery, verr)
			}
			return
		}
		var e *account.Error
		if !errors.As(err, &e) || e.Code != account.CodeValidationFailed || len(e.Fields) == 0 {
			t.Fatalf("%q: %v, want validation_failed with fields", rawQuery, err)
		}
		for _, f := range e.Fields {
			if !slices.Contains(listQueryParams, f.Field) {
				t.Fatalf("%q: error names unknown field %q", rawQuery, f.Field)
			}
		}
	})
}

// FuzzPathID: the :id decoder accepts exactly the canonical 36-character
// UUID text forms and answers anything else with a 422 problem naming id.
func FuzzPathID(f *testing.F) {
	for _, seed := range []string{"0192d4e0-7c1a-7b3e-9f00-123456789abc", "0192D4E0-7C1A-7B3E-9F00-123456789ABC", "nope", "",
		"{0192d4e0-7c1a-7b3e-9f00-123456789abc}", "urn:uuid:0192d4e0-7c1a-7b3e-9f00-123456789abc", "0192d4e07c1a7b3e9f00123456789abc", "' OR 1=1--"} {
		f.Add(seed)
	}
	s := &server{Deps: Deps{Log: slog.New(slog.DiscardHandler)}}
	f.Fuzz(func(t *testing.T, raw string) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
		c.Params = gin.Params{{Key: "id", Value: raw}}
		s.pathID(c)
		want, err := uuid.Parse(raw)
		valid := err == nil && len(raw) == 36
		if !valid {
			if !c.IsAborted() || w.Code != http.StatusUnprocessableEntity {
				t.Fatalf("%q: status %d, aborted %v; want 422", raw, w.Code, c.IsAborted())
			}
			var p problem
			if json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Code != account.CodeValidationFailed || len(p.Errors) != 1 || p.Errors[0].Field != "id" {
				t.Fatalf("%q: body %s", raw, w.Body.Bytes())
			}
			return
		}
		if c.IsAborted() || idOf(c) != want {
			t.Fatalf("%q: a canonical UUID was refused or misread", raw)
		}
	})
}

// FuzzCredential: whatever the Authorization and Cookie headers hold, the
// credential reader and the CSRF rule do not panic, a present but
// malformed Authorization is never read as a token, and the Authorization
// header always wins over the cookie.
func FuzzCredential(f *testing.F) {
	f.Add("Bearer abc", "access_token=def", "application/json", "")
	f.Add("", "access_token=def", "text/plain", "http://evil.example")
	f.Add("Basic dXNlcjpwYXNz", "", "", "null")
	f.Add("bearer  x ", "access_token=\"q\"; access_token=r", "application/json; charset=utf-8", "http://example.com")
	f.Fuzz(func(t *testing.T, authorization, cookie, contentType, origin string) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		req := httptest.NewRequest(http.MethodPut, "http://example.com/api/v1/account/password", nil)
		req.Header.Set("Authorization", authorization)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Origin", origin)
		c.Request = req
		cred := credentialOf(c, cookieName)
		srv := &server{origins: []string{"http://example.com:80"}}
		if srv.csrfSafe(req) && !isJSON(contentType) {
			if o, ok := normalOrigin(origin); !ok || o != "http://example.com:80" {
				t.Fatalf("Origin %q passed the CSRF check", origin)
			}
		}
		switch {
		case authorization != "":
			if !cred.present || cred.fromCookie {
				t.Fatalf("Authorization %q present but credential %+v", authorization, cred)
			}
			scheme, token, ok := strings.Cut(authorization, " ")
			wellFormed := ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != ""
			if cred.malformed == wellFormed {
				t.Fatalf("Authorization %q: malformed=%v", authorization, cred.malformed)
			}
			if cred.malformed && cred.token != "" {
				t.Fatalf("Authorization %q: a malformed header gave token %q", authorization, cred.token)
			}
		case cred.present && !cred.fromCookie:
			t.Fatalf("no Authorization, yet a header credential %+v", cred)
		}
	})
}
