package httpapi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestClientAddressKeys (finding 12): every peer address maps to a real
// throttle key: IPv6 by its /64 without the zone, link-local ones with a
// zone included, which used to share the empty key.
func TestClientAddressKeys(t *testing.T) {
	t.Parallel()
	e := gin.New()
	if err := e.SetTrustedProxies(nil); err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]string{
		"198.51.100.7:1234":           "198.51.100.7",
		"[2001:db8:1:2:3:4:5:6]:1234": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:1234":         "fe80::/64",
		"[fe80::2%25eth1]:1234":       "fe80::/64",
		"[::ffff:198.51.100.7]:1234":  "198.51.100.7",
		"not an address":              "raw:not an address",
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.RemoteAddr = remote
		if got := clientAddress(c); got != want {
			t.Errorf("%s: key %q, want %q", remote, got, want)
		}
	}
}

// recordingSignUps keeps the address each sign-up was charged to.
type recordingSignUps struct{ got chan string }

func (r recordingSignUps) ReserveSignUp(_ context.Context, address string) error {
	r.got <- address
	return nil
}

// TestOnlyForwardedForFromTrustedHop (issue 29, finding 7): behind a
// trusted proxy the client is the one X-Forwarded-For names; X-Real-IP,
// which the proxy may pass through from the client untouched, names
// nothing, and a peer that is no trusted proxy names nobody but itself.
func TestOnlyForwardedForFromTrustedHop(t *testing.T) {
	t.Parallel()
	rec := recordingSignUps{got: make(chan string, 1)}
	h, err := New(Deps{Users: stubUsers{}, Sessions: stubSessions{}, SignUps: rec, Log: slog.New(slog.DiscardHandler),
		Config: Config{MaxBodyBytes: 1 << 10, TrustedProxies: []string{"10.0.0.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, peer string
		header     map[string]string
		want       string
	}{
		{"X-Real-IP from a trusted proxy", "10.0.0.1:4000", map[string]string{"X-Real-IP": "192.0.2.66"}, "10.0.0.1"},
		{"X-Forwarded-For from a trusted proxy", "10.0.0.1:4000", map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "192.0.2.66"}, "198.51.100.7"},
		{"X-Forwarded-For from a client", "203.0.113.9:4000", map[string]string{"X-Forwarded-For": "192.0.2.66"}, "203.0.113.9"},
		{"X-Real-IP from a client", "203.0.113.9:4000", map[string]string{"X-Real-IP": "192.0.2.66"}, "203.0.113.9"},
	} {
		req := httptest.NewRequest("POST", "/api/v1/account/signup", strings.NewReader(`{"username":"alice1","password":"long-enough-password"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = c.peer
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		select {
		case got := <-rec.got:
			if got != c.want {
				t.Errorf("%s: the sign-up was charged to %s, want %s", c.what, got, c.want)
			}
		default:
			t.Errorf("%s: answered %d without charging a sign-up: %s", c.what, w.Code, w.Body)
		}
	}
}
