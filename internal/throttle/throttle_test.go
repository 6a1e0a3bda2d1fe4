package throttle

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"accounts/ent"
	_ "accounts/ent/runtime" // the schema's defaults and hooks
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/testdb"
)

func testClient(t *testing.T) *ent.Client {
	t.Helper()
	d := config.Default().Database
	d.URL = testdb.URL(t)
	db, err := database.Open(context.Background(), d, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db.Ent
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestReserveWindowAndRelease: a budget allows Max attempts per window,
// answers how long until the window ends, starts over when it has, and
// takes back an attempt that is released.
func TestReserveWindowAndRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := New(testClient(t), []byte("k"), 16, c.now)
	k := UserKey(uuid.New(), Limit{Max: 3, Window: time.Minute})
	for i := range 3 {
		if wait, err := s.Reserve(ctx, k); err != nil || wait != 0 {
			t.Fatalf("attempt %d: wait %s, %v", i, wait, err)
		}
	}
	c.advance(20 * time.Second)
	if wait, err := s.Reserve(ctx, k); err != nil || wait != 40*time.Second {
		t.Fatalf("over budget: wait %s, %v; want the 40s left of the window", wait, err)
	}
	if err := s.Release(ctx, k); err != nil {
		t.Fatal(err)
	}
	if wait, _ := s.Reserve(ctx, k); wait != 0 {
		t.Fatal("a released attempt was not given back")
	}
	c.advance(40 * time.Second)
	if wait, _ := s.Reserve(ctx, k); wait != 0 {
		t.Fatal("a new window did not start over")
	}
	// Over one budget, no other budget is charged.
	a := s.BucketKey("a", "198.51.100.1", Limit{Max: 1, Window: time.Minute})
	full := UserKey(uuid.New(), Limit{Max: 1, Window: time.Minute})
	if wait, _ := s.Reserve(ctx, full); wait != 0 {
		t.Fatal("first attempt refused")
	}
	if wait, _ := s.Reserve(ctx, a, full); wait == 0 {
		t.Fatal("an attempt over one of its budgets passed")
	}
	if wait, _ := s.Reserve(ctx, a); wait != 0 {
		t.Fatal("the refused attempt was charged to the other budget")
	}
}

// TestReserveCountsParallelAttempts: attempts made at once, as from many
// replicas, pass exactly Max times.
func TestReserveCountsParallelAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := testClient(t)
	k := UserKey(uuid.New(), Limit{Max: 10, Window: time.Minute})
	var passed atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		// Each goroutine has its own Store, as each replica has.
		s := New(client, []byte("k"), 16, nil)
		wg.Go(func() {
			wait, err := s.Reserve(ctx, k)
			if err != nil {
				t.Errorf("attempt %d: %v", i, err)
			}
			if wait == 0 && err == nil {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := passed.Load(); n != 10 {
		t.Fatalf("%d of 60 parallel attempts passed a budget of 10", n)
	}
}

// TestBucketsBoundState: however many distinct values clients send, the
// counters of a kind stay within its buckets, and Purge removes the ones
// whose window has passed.
func TestBucketsBoundState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{t: time.Now().UTC()}
	client := testClient(t)
	s := New(client, []byte("k"), 32, c.now)
	l := Limit{Max: 1000, Window: time.Minute}
	for i := range 500 {
		if _, err := s.Reserve(ctx, s.BucketKey("a", fmt.Sprintf("2001:db8:%x::/64", i), l)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := client.ThrottleCounter.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n > 32 || n < 16 {
		t.Fatalf("%d counters for 500 addresses in 32 buckets", n)
	}
	c.advance(2 * time.Minute)
	purged := 0
	for {
		d, err := s.Purge(ctx, c.now().Add(-time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if d == 0 {
			break
		}
		if d > 10 {
			t.Fatalf("one purge deleted %d rows, more than its batch of 10", d)
		}
		purged += d
	}
	if left, _ := client.ThrottleCounter.Query().Count(ctx); purged != n || left != 0 {
		t.Fatalf("purged %d of %d, %d left", purged, n, left)
	}
}
