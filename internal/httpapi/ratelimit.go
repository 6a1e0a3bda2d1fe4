package httpapi

import (
	"fmt"
	"math"
	"strings"

	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// rateLimitPolicies names the throttle budgets whose state the RateLimit
// headers show, by kind: only those keyed on the client's own address,
// and the caller's own session's budget of wrong current passwords, which
// tells its holder nothing about anyone else.
// What is left of a username's budget (a user's, or the bucket an unknown
// name falls into) would tell whether the name exists, and what is left
// of a user's devices' budget whether a device token is trusted; the
// throttle answers alike for both, so the headers do too.
var rateLimitPolicies = map[string]string{"a": "address", "s": "signup", "p": "session"}

// rateLimit gives a throttled operation (x-throttled) a RateReport in its
// request's context, and writes RateLimit-Policy and RateLimit (IETF
// httpapi ratelimit-headers draft) from it when the answer's status is
// written, whatever the answer: success, failure or 429.
func (s *server) rateLimit(c *gin.Context) {
	if op := s.operationOf(c); op == nil || !op.throttled {
		return
	}
	ctx, report := account.WithRateReport(c.Request.Context())
	c.Request = c.Request.WithContext(ctx)
	c.Writer = &rateLimitWriter{ResponseWriter: c.Writer, report: report}
	c.Next()
}

// rateLimitWriter adds the RateLimit headers just before the status is
// written, when every reservation of the request has been made.
type rateLimitWriter struct {
	gin.ResponseWriter
	report *account.RateReport
	done   bool
}

func (w *rateLimitWriter) WriteHeader(code int) {
	w.addHeaders()
	w.ResponseWriter.WriteHeader(code)
}

func (w *rateLimitWriter) WriteHeaderNow() {
	w.addHeaders()
	w.ResponseWriter.WriteHeaderNow()
}

func (w *rateLimitWriter) Write(b []byte) (int, error) {
	w.addHeaders()
	return w.ResponseWriter.Write(b)
}

func (w *rateLimitWriter) addHeaders() {
	if w.done {
		return
	}
	w.done = true
	var policy, state []string
	for _, d := range w.report.Decisions() {
		name, ok := rateLimitPolicies[d.Kind()]
		if !ok {
			continue
		}
		policy = append(policy, fmt.Sprintf("%q;q=%d;w=%d", name, d.Key.Limit.Max, int(math.Ceil(d.Key.Limit.Window.Seconds()))))
		state = append(state, fmt.Sprintf("%q;r=%d;t=%d", name, d.Remaining, int(math.Ceil(max(d.Reset.Seconds(), 0)))))
	}
	if len(policy) > 0 {
		w.Header().Set("RateLimit-Policy", strings.Join(policy, ", "))
		w.Header().Set("RateLimit", strings.Join(state, ", "))
	}
}
