package throttle

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Decision is what one reservation left of a budget: how many attempts
// remain in its window and when the window ends (for a refused attempt,
// none remain and Reset is the wait). The HTTP layer turns decisions into
// the RateLimit headers of the IETF httpapi ratelimit-headers draft.
type Decision struct {
	Key       Key
	Remaining int
	Reset     time.Duration
}

// Kind is the kind of the decision's budget: its key's id up to the
// first ':' ("a" for a login address bucket, "s" for a sign-up one, "u"
// for a user, ...).
func (d Decision) Kind() string {
	kind, _, _ := strings.Cut(d.Key.ID, ":")
	return kind
}

// Report collects the decisions of the reservations made with a context
// from WithReport, one per kind of budget, the latest winning.
type Report struct {
	mu        sync.Mutex
	decisions []Decision
}

type reportKey struct{}

// WithReport returns ctx carrying a new, empty Report, which Reserve and
// Release made with that context fill in.
func WithReport(ctx context.Context) (context.Context, *Report) {
	r := &Report{}
	return context.WithValue(ctx, reportKey{}, r), r
}

func reportOf(ctx context.Context) *Report {
	r, _ := ctx.Value(reportKey{}).(*Report)
	return r
}

// Decisions returns the decisions made so far.
func (r *Report) Decisions() []Decision {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Decision(nil), r.decisions...)
}

func (r *Report) add(d Decision) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.decisions {
		if r.decisions[i].Kind() == d.Kind() {
			r.decisions[i] = d
			return
		}
	}
	r.decisions = append(r.decisions, d)
}

// released counts an attempt on k given back.
func (r *Report) released(k Key) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.decisions {
		if d := &r.decisions[i]; d.Key.ID == k.ID {
			d.Remaining = min(d.Remaining+1, k.Limit.Max)
		}
	}
}
