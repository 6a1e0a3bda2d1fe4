package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// corsMaxAge is how long a browser may cache a preflight answer, in
// seconds (Chromium caps it at 7200).
const corsMaxAge = "600"

// corsExposed are the response headers a cross-origin script may read
// besides the CORS-safelisted ones.
const corsExposed = "X-Request-Id, Location, Retry-After, ETag, RateLimit-Policy, RateLimit"

// corsMethods are the methods a preflight may ask for: those of the API.
var corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// cors applies http.cors_origins, which is empty (off) by default. A
// request from a listed origin gets Access-Control-Allow-Origin naming it,
// with credentials allowed (the session cookie), and its preflight
// (OPTIONS with Access-Control-Request-Method) is answered 204 with the
// methods and headers it asked for, as the Fetch standard's CORS protocol
// expects. "*" lists every origin, without credentials. A request from
// any other origin gets no CORS header, so the browser keeps the answer
// from the script; its preflight goes on to the 405 it always got.
func (s *server) cors(c *gin.Context) {
	if len(s.CORSOrigins) == 0 {
		return
	}
	origin := c.GetHeader("Origin")
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	allowed, wildcard := s.corsAllowed(origin)
	if !allowed {
		return
	}
	if wildcard {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	method := c.GetHeader("Access-Control-Request-Method")
	if c.Request.Method != http.MethodOptions || method == "" {
		h.Set("Access-Control-Expose-Headers", corsExposed)
		return
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	if !slices.Contains(corsMethods, method) {
		h.Del("Access-Control-Allow-Origin")
		return
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
	if rh := c.GetHeader("Access-Control-Request-Headers"); rh != "" {
		// The origin is trusted; it may send any header it asks for.
		h.Set("Access-Control-Allow-Headers", rh)
	}
	h.Set("Access-Control-Max-Age", corsMaxAge)
	c.AbortWithStatus(http.StatusNoContent)
}

// corsAllowed tells whether origin is listed, and whether by "*".
func (s *server) corsAllowed(origin string) (allowed, wildcard bool) {
	if origin == "" {
		return false, false
	}
	n, ok := normalOrigin(origin)
	for _, o := range s.CORSOrigins {
		switch o = strings.TrimSpace(o); {
		case o == "*":
			return true, true
		case ok && o != "":
			if lo, ok := normalOrigin(o); ok && lo == n {
				return true, false
			}
		}
	}
	return false, false
}

// addHeadRoutes answers HEAD on every GET route with the GET handler and
// its checks (operationOf maps HEAD to the GET operation); net/http sends
// the headers and drops the body.
func addHeadRoutes(e *gin.Engine) {
	for _, r := range e.Routes() {
		if r.Method == http.MethodGet {
			e.HEAD(r.Path, r.HandlerFunc)
		}
	}
}
