package account

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"accounts/internal/password"
	"accounts/internal/throttle"
)

// hogFixture is the service as configured by default where it matters
// here (config.Default's budgets, but perAccount verifications per
// account; 0: unlimited), on a hasher whose hashes cost milliseconds as
// real ones do: two slots, a second's wait for one. It signs up the
// victims victim1 to victim15 and the six accounts of the hog.
func hogFixture(tb testing.TB, perAccount int) fixture {
	tb.Helper()
	db := testDB(tb)
	h, err := password.New(password.Options{
		Params:        password.Params{Time: 2, MemoryKiB: 8 * 1024, Threads: 1},
		Pepper:        []byte("test pepper"),
		MaxConcurrent: 2,
		MaxWait:       time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	f := fixture{users: NewUsers(db, h), sessions: NewSessions(db, h, 30*time.Minute, time.Now), clock: &clock{t: time.Now()}, db: db}
	key := []byte(strings.Repeat("k", 32))
	window := 15 * time.Minute
	f.sessions.SetGuard(NewGuard(throttle.New(db.Ent, key, 1024, time.Now), Limits{
		PerUsername:    throttle.Limit{Max: 10, Window: window},
		PerAddress:     throttle.Limit{Max: 100, Window: window},
		PerDevice:      throttle.Limit{Max: 10, Window: window},
		DeviceLifetime: 24 * time.Hour,

		PasswordFailuresPerSession: throttle.Limit{Max: 5, Window: window},
		VerificationsPerAccount:    throttle.Limit{Max: perAccount, Window: window},
		VerificationsPerAddress:    throttle.Limit{Max: 1000, Window: window},
	}, key))
	ctx := context.Background()
	var names []string
	for i := range 15 {
		names = append(names, fmt.Sprintf("victim%d", i+1))
	}
	for i := range 6 {
		names = append(names, fmt.Sprintf("hogacct%d", i+1))
	}
	for _, n := range names {
		if _, err := f.users.SignUp(ctx, NewUser{Username: n, Password: n + "-password"}); err != nil {
			tb.Fatal(err)
		}
	}
	return f
}

// hogLoop is the attack of issue 29, finding 2: one principal with six
// accounts logging in with the right passwords in nine loops, from one
// address, until stop is closed. Each login holds gate for reading, so
// whoever holds it for writing has the loop paused.
func hogLoop(ctx context.Context, f fixture, gate *sync.RWMutex, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range 9 {
		wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				n := fmt.Sprintf("hogacct%d", (i+j)%6+1)
				gate.RLock()
				_, err := f.sessions.Login(ctx, Credentials{Username: n, Password: n + "-password", From: Client{Address: "198.51.100.66"}})
				gate.RUnlock()
				if ErrorCode(err) == CodeTooManyAttempts {
					// A client told to wait comes back soon, not at once.
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	return &wg
}

// victimLogins times n logins of the victim name, one after another, from
// an address of its own; a failed login fails the test.
func victimLogins(ctx context.Context, tb testing.TB, f fixture, name string, n int) []time.Duration {
	tb.Helper()
	took := make([]time.Duration, 0, n)
	for range n {
		took = append(took, victimLogin(ctx, tb, f, name))
	}
	return took
}

// victimLogin times one login of the victim name.
func victimLogin(ctx context.Context, tb testing.TB, f fixture, name string) time.Duration {
	tb.Helper()
	start := time.Now()
	_, err := f.sessions.Login(ctx, Credentials{Username: name, Password: name + "-password", From: Client{Address: "203.0.113.9"}})
	if err != nil {
		tb.Fatalf("the victim's login: %v", err)
	}
	return time.Since(start)
}

// p99 is the 99th percentile of d (the largest of fewer than 100).
func p99(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)*99+99)/100-1]
}

// underHogs runs the victim's n logins while the loop of hogLoop runs.
func underHogs(ctx context.Context, tb testing.TB, f fixture, name string, n int) []time.Duration {
	tb.Helper()
	stop := make(chan struct{})
	wg := hogLoop(ctx, f, &sync.RWMutex{}, stop)
	defer wg.Wait()
	defer close(stop)
	time.Sleep(300 * time.Millisecond)
	return victimLogins(ctx, tb, f, name, n)
}

// TestSixAccountLoopLeavesOthersLogins (issue 29, finding 2): while one
// principal loops right logins of six accounts, another user's login p99
// stays within twice its p99 when idle. A machine shared with other work
// (the test runs beside other packages' tests) moves a tail this short by
// itself, so the test measures twice at most, on fresh databases, and
// fails when neither measurement holds; the code before issue 29 measured
// above 6× each time.
func TestSixAccountLoopLeavesOthersLogins(t *testing.T) {
	for attempt := 1; ; attempt++ {
		idle, loaded := sixAccountLoop(t)
		t.Logf("measurement %d: victim login p99 idle %v, under the six-account loop %v (%.2f×)", attempt, idle, loaded, float64(loaded)/float64(idle))
		if loaded <= 2*idle {
			return
		}
		if attempt == 2 {
			t.Fatalf("victim login p99 %v under the six-account loop, more than twice the idle %v", loaded, idle)
		}
	}
}

// sixAccountLoop returns the victims' login p99 idle and under the loop.
// Idle logins (the loop paused, its logins in flight done) and loaded ones
// alternate, so that the load the machine has besides weighs on both
// alike, and 300 of each make a p99 that is not the one slowest; each of
// 15 victims makes 42 logins, within the default 60 verifications per
// account.
func sixAccountLoop(t *testing.T) (idle99, loaded99 time.Duration) {
	ctx := context.Background()
	f := hogFixture(t, 60)
	var (
		gate         sync.RWMutex
		idle, loaded []time.Duration
	)
	stop := make(chan struct{})
	wg := hogLoop(ctx, f, &gate, stop)
	defer wg.Wait()
	defer close(stop)
	for i := range 15 {
		victim := fmt.Sprintf("victim%d", i+1)
		victimLogins(ctx, t, f, victim, 2) // warm the pool and the caches
		for range 20 {
			gate.Lock()
			idle = append(idle, victimLogin(ctx, t, f, victim))
			gate.Unlock()
			time.Sleep(30 * time.Millisecond) // the loop takes its slot again
			loaded = append(loaded, victimLogin(ctx, t, f, victim))
		}
	}
	return p99(idle), p99(loaded)
}

// BenchmarkVictimLogin reports the victim's login p99 idle and under the
// six-account loop (go test -run '^$' -bench VictimLogin
// ./internal/account/), with no verification budget per account: the fair
// share of the hashing slots alone bears the loop, the worst case.
func BenchmarkVictimLogin(b *testing.B) {
	ctx := context.Background()
	for _, loop := range []bool{false, true} {
		b.Run(map[bool]string{false: "idle", true: "six-account-loop"}[loop], func(b *testing.B) {
			f := hogFixture(b, 0)
			victimLogins(ctx, b, f, "victim1", 5)
			b.ResetTimer()
			var took []time.Duration
			if loop {
				took = underHogs(ctx, b, f, "victim1", b.N)
			} else {
				took = victimLogins(ctx, b, f, "victim1", b.N)
			}
			b.ReportMetric(float64(p99(took).Microseconds())/1000, "p99-ms")
		})
	}
}
