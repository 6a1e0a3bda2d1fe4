package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// The fuzz targets of the decoders that read the URL and the headers; the
// body decoder's is FuzzDecodeJSON. `make fuzz` runs each briefly.

// FuzzCredential: whatever the Authorization and Cookie headers hold, the
// credential reader and the CSRF rule do not panic, a present but
// malformed Authorization is never read as a token, the Authorization
// header always wins over the cookie, and a request that a browser marks
// cross-site passes the CSRF rule only from the trusted origin.
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
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		csrf, err := crossOriginProtection([]string{"https://accounts.example.com"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if csrf.Check(req) == nil && origin != "https://accounts.example.com" {
			t.Fatalf("a cross-site request with Origin %q passed the CSRF check", origin)
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
