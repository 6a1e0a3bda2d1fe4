package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/internal/devinfra/pgcluster"
)

// Timeline of a failover run, from the start of the load.
const (
	failoverLoadFor   = 12 * time.Second
	failoverCrashAt   = 3 * time.Second
	failoverPromoteAt = 6 * time.Second
	// failoverRecover is the promise: requests succeed again within this
	// long of the promotion.
	failoverRecover = 2 * time.Second
)

// TestFailoverSynchronous fails the primary over to a synchronous standby
// under load: the primary is crashed (pg_ctl stop -m immediate), and the
// standby promoted three seconds later. The service has a two-host URL
// with target_session_attrs=read-write. It asserts that
//
//   - while no primary accepts writes, every request that fails answers
//     503 service_unavailable with Retry-After, and /readyz is 503;
//   - every request that starts later than failoverRecover after the
//     promotion succeeds, and one succeeds within it; /readyz is 200 again;
//   - every sign-up answered 201 is on the new primary (synchronous
//     replication: a commit is acknowledged once the standby has it);
//   - the goroutines are back to their count once the server stopped.
//
// It is not parallel because it counts the goroutines of the whole test
// process.
func TestFailoverSynchronous(t *testing.T) {
	directOnly(t)
	idleHTTP()
	goroutinesBefore := settledGoroutines(0, 5*time.Second)
	f := runFailover(t, true)
	f.check(t)
	if f.lost != 0 {
		t.Errorf("%d of %d sign-ups answered 201 are missing on the new primary, with synchronous replication", f.lost, f.created)
	}
	idleHTTP()
	goroutinesAfter := settledGoroutines(goroutinesBefore, 10*time.Second)
	if goroutinesAfter > goroutinesBefore {
		t.Errorf("goroutines: %d before the server started, %d after it stopped", goroutinesBefore, goroutinesAfter)
		logGoroutines(t)
	}
	f.log(t)
	t.Logf("goroutines: %d before the server, %d after it stopped", goroutinesBefore, goroutinesAfter)
}

// TestFailoverAsynchronous is the same failover with an asynchronous
// standby. A commit is acknowledged before the standby has it, so sign-ups
// answered 201 just before the crash can be missing on the new primary:
// the test measures how many and reports it, and asserts the rest.
func TestFailoverAsynchronous(t *testing.T) {
	directOnly(t)
	t.Parallel()
	f := runFailover(t, false)
	f.check(t)
	f.log(t)
}

// failover is the record of one run of runFailover.
type failover struct {
	synchronous bool
	t0          time.Time
	crashing    time.Time // pg_ctl stop -m immediate began
	crashed     time.Time // and returned
	promoted    time.Time // pg_ctl promote -w returned
	end         time.Time
	outcomes    []outcome
	probes      []outcome
	created     int // sign-ups answered 201
	lost        int // of those, missing on the new primary
}

// runFailover builds a primary and a standby (synchronous or not), serves
// on both through one URL, loads the service with two clients signing up
// and two listing users, crashes the primary and promotes the standby,
// and returns what every request got.
func runFailover(t *testing.T, synchronous bool) *failover {
	ctx := context.Background()
	primary, standby := replicatedPair(t, synchronous)
	multiHost := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d,127.0.0.1:%d/accounts?sslmode=disable&target_session_attrs=read-write",
		primary.Password(), primary.Port(), standby.Port())
	s := startServerOn(t, multiHost, map[string]string{
		"ACCOUNTS_DATABASE_POOL_TIMEOUT": "2s",
		"ACCOUNTS_DATABASE_POOL_SIZE":    "2",
		"ACCOUNTS_DATABASE_MAX_OVERFLOW": "6",
		"ACCOUNTS_LOG_LEVEL":             "info",
	})
	defer func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()
	admin := failoverAdmin(t, s)

	f := &failover{synchronous: synchronous}
	transport := &http.Transport{MaxIdleConnsPerHost: 8}
	httpc := &http.Client{Transport: transport, Timeout: 15 * time.Second}
	defer transport.CloseIdleConnections()
	var mu sync.Mutex
	signed := map[string]int{}
	send := func(method, path, token string, body any) outcome {
		return sendLoad(httpc, s, method, path, token, body)
	}
	pw := "failover-pw-" + randomHex(6)
	s.addSecret(pw)
	loadCtx, stopLoad := context.WithTimeout(ctx, failoverLoadFor)
	defer stopLoad()
	f.t0 = time.Now()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; loadCtx.Err() == nil; i++ {
				name := fmt.Sprintf("fo%d_%05d", w, i)
				o := send("POST", "/api/v1/account/signup", "", map[string]string{"username": name, "password": pw})
				o.username = name
				mu.Lock()
				f.outcomes = append(f.outcomes, o)
				signed[name] = o.status
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
		wg.Go(func() {
			for loadCtx.Err() == nil {
				o := send("GET", "/api/v1/users?limit=20&sort=username&order=desc", admin, nil)
				mu.Lock()
				f.outcomes = append(f.outcomes, o)
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Go(func() {
		for loadCtx.Err() == nil {
			o := send("GET", "/readyz", "", nil)
			mu.Lock()
			f.probes = append(f.probes, o)
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	})

	f.crashAndPromote(t, primary, standby)
	wg.Wait()
	f.end = time.Now()

	f.countLost(t, standby.URL("accounts"), signed)
	return f
}

// crashAndPromote crashes the primary at failoverCrashAt and promotes the
// standby at failoverPromoteAt, recording when.
func (f *failover) crashAndPromote(t *testing.T, primary, standby *pgcluster.Cluster) {
	t.Helper()
	ctx := context.Background()
	time.Sleep(time.Until(f.t0.Add(failoverCrashAt)))
	f.crashing = time.Now()
	if err := primary.Crash(ctx); err != nil {
		t.Fatal(err)
	}
	f.crashed = time.Now()
	time.Sleep(time.Until(f.t0.Add(failoverPromoteAt)))
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	f.promoted = time.Now()
}

// countLost counts the sign-ups answered 201 (signed: username to status)
// and those of them missing on the new primary at url: every one must be
// there.
func (f *failover) countLost(t *testing.T, url string, signed map[string]int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, `SELECT username FROM users WHERE username LIKE 'fo%'`)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, n := range stored {
		have[n] = true
	}
	for name, status := range signed {
		if status == http.StatusCreated {
			f.created++
			if !have[name] {
				f.lost++
			}
		}
	}
}

// replicatedPair starts a private primary with the migrated database
// "accounts" and a streaming standby of it, made with pg_basebackup -R.
// With synchronous, the primary waits for the standby at every commit
// (synchronous_standby_names = '*').
func replicatedPair(t *testing.T, synchronous bool) (primary, standby *pgcluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// synchronous_commit off (what NoSync sets) would acknowledge commits
	// before anyone, standby included, has them.
	settings := map[string]string{"max_connections": "60", "synchronous_commit": "on"}
	primary = startPrivateCluster(t, settings)
	if _, err := pgcluster.EnsureDatabase(ctx, primary.URL("postgres"), "accounts"); err != nil {
		t.Fatal(err)
	}
	migrateDatabase(t, primary.URL("accounts"))
	standby, err := primary.StartStandby(ctx, pgcluster.Options{
		DataDir:  filepath.Join(reachableTempDir(t), "standby"),
		NoSync:   true,
		Settings: settings,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := standby.Stop(ctx); err != nil {
			t.Errorf("stop the standby: %v", err)
		}
	})
	db, err := sql.Open("pgx", primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	want := "async"
	if synchronous {
		want = "sync"
		if _, err := db.ExecContext(ctx, `ALTER SYSTEM SET synchronous_standby_names = '*'`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `SELECT pg_reload_conf()`); err != nil {
			t.Fatal(err)
		}
	}
	for {
		var state string
		err := db.QueryRowContext(ctx, `SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&state)
		if err == nil && state == want {
			return primary, standby
		}
		if ctx.Err() != nil {
			t.Fatalf("the standby did not stream as %s (state %q, error %v)", want, state, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// failoverAdmin creates a super admin and returns its bearer token, for
// the clients that list users.
func failoverAdmin(t *testing.T, s *server) string {
	t.Helper()
	pw := "failover-root-" + randomHex(6)
	s.addSecret(pw)
	if out, err := runWithStdin(s.env, pw+"\n", "users", "create-superadmin", "--username", "failover_root"); err != nil {
		t.Fatalf("create-superadmin: %v\n%s", err, out)
	}
	c := s.newClient(false)
	c.login("failover_root", pw)
	return c.token
}

// check asserts the promises of a failover run; see TestFailoverSynchronous.
func (f *failover) check(t *testing.T) {
	t.Helper()
	broken := 0
	report := func(format string, args ...any) {
		t.Helper()
		if broken++; broken <= 20 {
			t.Errorf(format, args...)
		}
	}
	at := func(tm time.Time) string { return "+" + tm.Sub(f.t0).Round(time.Millisecond).String() }
	recovered := f.promoted.Add(failoverRecover)
	failedDuring := 0
	for _, o := range f.outcomes {
		ok := o.err == nil && (o.status == http.StatusOK || o.status == http.StatusCreated)
		switch {
		case ok:
		case o.err != nil:
			report("%s %s at %s: %v", o.method, o.path, at(o.start), o.err)
		case o.status != http.StatusServiceUnavailable:
			report("%s %s at %s: status %d, want 2xx or 503", o.method, o.path, at(o.start), o.status)
		case o.end.Before(f.crashing):
			report("%s %s failed at %s, before the primary crashed at %s", o.method, o.path, at(o.start), at(f.crashing))
		case o.start.After(recovered):
			report("%s %s failed at %s, more than %s after the promotion at %s", o.method, o.path, at(o.start), failoverRecover, at(f.promoted))
		default:
			failedDuring++
		}
	}
	if broken > 20 {
		t.Errorf("… and %d more broken promises", broken-20)
	}
	if failedDuring == 0 {
		t.Error("no request failed between the crash and the promotion: the primary was not really gone")
	}
	if first := f.firstSuccessAfterPromotion(); first < 0 || first > failoverRecover {
		t.Errorf("first success %s after the promotion, want within %s", first, failoverRecover)
	}
	var ready503During, readyAfter bool
	for _, p := range f.probes {
		if p.start.After(f.crashed) && p.end.Before(f.promoted) && p.status == http.StatusServiceUnavailable && p.err == nil {
			ready503During = true
		}
		if p.start.After(recovered) {
			if p.status != http.StatusOK {
				t.Errorf("/readyz at %s: %d (%v), more than %s after the promotion", at(p.start), p.status, p.err, failoverRecover)
			}
			readyAfter = true
		}
	}
	if !ready503During || !readyAfter {
		t.Errorf("/readyz: 503 seen while no primary: %v; 200 after the promotion: %v", ready503During, readyAfter)
	}
}

// firstSuccessAfterPromotion is how long after the promotion the first
// request that started after it succeeded, or -1.
func (f *failover) firstSuccessAfterPromotion() time.Duration {
	first := time.Duration(-1)
	for _, o := range f.outcomes {
		if o.err == nil && o.status < 300 && o.start.After(f.promoted) {
			if d := o.end.Sub(f.promoted); first < 0 || d < first {
				first = d
			}
		}
	}
	return first
}

// log reports the run's numbers, which docs/deploys.md's "Running on a
// replicated PostgreSQL" quotes.
func (f *failover) log(t *testing.T) {
	t.Helper()
	statuses := map[int]int{}
	var during, failedDuring int
	for _, o := range f.outcomes {
		statuses[o.status]++
		if o.end.After(f.crashed) && o.start.Before(f.promoted) {
			during++
			if o.status >= 300 || o.err != nil {
				failedDuring++
			}
		}
	}
	mode := "asynchronous"
	if f.synchronous {
		mode = "synchronous"
	}
	t.Logf("%s standby: %d requests in %s (%v by status; 0 = no answer); primary crashed at +%s, standby promoted at +%s",
		mode, len(f.outcomes), f.end.Sub(f.t0).Round(time.Millisecond), statuses,
		f.crashed.Sub(f.t0).Round(time.Millisecond), f.promoted.Sub(f.t0).Round(time.Millisecond))
	t.Logf("%s standby: %d requests while no primary, %d of them 503; first success %s after the promotion; %d of %d acknowledged sign-ups missing on the new primary",
		mode, during, failedDuring, f.firstSuccessAfterPromotion().Round(time.Millisecond), f.lost, f.created)
}
