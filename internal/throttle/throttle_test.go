package throttle

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := New(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if d := l.Check("alice"); d != 0 {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("alice")
	}
	if d := l.Check("alice"); d != time.Minute {
		t.Fatalf("after 3 failures Check = %s, want the rest of the window (1m)", d)
	}
	if d := l.Check("bob"); d != 0 {
		t.Fatal("another key is blocked")
	}
	now = now.Add(40 * time.Second)
	if d := l.Check("alice"); d != 20*time.Second {
		t.Fatalf("Check = %s, want 20s", d)
	}
	now = now.Add(20 * time.Second)
	if d := l.Check("alice"); d != 0 {
		t.Fatalf("still blocked after the window: %s", d)
	}
	l.Fail("alice")
	l.Fail("alice")
	l.Reset("alice")
	l.Fail("alice")
	l.Fail("alice")
	if d := l.Check("alice"); d != 0 {
		t.Fatal("Reset did not forget the failures")
	}
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	l := New(0, time.Minute, nil)
	for range 10 {
		l.Fail("x")
	}
	if l.Check("x") != 0 {
		t.Fatal("a disabled limiter blocked")
	}
	var nilLimiter *Limiter
	nilLimiter.Fail("x")
	if nilLimiter.Check("x") != 0 {
		t.Fatal("a nil limiter blocked")
	}
}

// TestSweep: keys of past windows are dropped, so memory stays bounded by
// the keys seen within one window.
func TestSweep(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := New(5, time.Second, func() time.Time { return now })
	for i := range 5000 {
		l.Fail(fmt.Sprint(i))
		if i%1000 == 999 {
			now = now.Add(2 * time.Second)
		}
	}
	if n := len(l.entries); n > 2100 {
		t.Fatalf("%d keys kept, want old windows swept", n)
	}
}
