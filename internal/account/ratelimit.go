package account

import (
	"context"

	"accounts/internal/throttle"
)

// RateReport collects what the throttle decided for one request: for each
// kind of budget it drew on, what is left and when its window ends. The
// HTTP layer reads it for the RateLimit headers.
type RateReport = throttle.Report

// RateDecision is the state of one budget after a request.
type RateDecision = throttle.Decision

// WithRateReport returns ctx carrying a new RateReport, which every
// reservation made with the context (logins, password changes, sign-ups)
// fills in.
func WithRateReport(ctx context.Context) (context.Context, *RateReport) {
	return throttle.WithReport(ctx)
}
