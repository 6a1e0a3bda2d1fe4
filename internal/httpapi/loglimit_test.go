package httpapi

import (
	"testing"
	"time"
)

// TestLogLimit: the first failure of an outage is logged at once, the
// next ones within unavailableLogEvery are counted, and the first after it
// is logged with that count.
func TestLogLimit(t *testing.T) {
	t.Parallel()
	var l logLimit
	t0 := time.Unix(1_700_000_000, 0)
	if n, ok := l.allow(t0); !ok || n != 0 {
		t.Fatalf("first failure: allow = %d, %v, want 0, true", n, ok)
	}
	for i := range 5 {
		if _, ok := l.allow(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("failure %d within %s was let through", i+2, unavailableLogEvery)
		}
	}
	if n, ok := l.allow(t0.Add(unavailableLogEvery)); !ok || n != 5 {
		t.Fatalf("after %s: allow = %d, %v, want 5, true", unavailableLogEvery, n, ok)
	}
}
