package httpapi

import (
	"net/http/httptest"
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
