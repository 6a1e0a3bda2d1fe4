package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"accounts/internal/devinfra/pgcluster"
	"accounts/internal/migrate"
	"accounts/migrations"
)

// TestDatabaseOutageUnderLoad stops the service's PostgreSQL (a private
// cluster) for 5 s while clients sign up and read for 20 s, then starts it
// again on the same port, and holds the service to its promises:
//
//   - during the outage every request answers 503 problem+json
//     (service_unavailable) within database.pool_timeout (2 s here): no
//     500, no hang;
//   - every request started 2 s or more after the database is back
//     succeeds;
//   - every sign-up that got 201 is in the database afterwards, and one
//     that got an error is either absent or complete (a commit whose answer
//     was lost with the connection); nothing is half-written;
//   - no goroutine is left behind, neither while the server runs (back to
//     its idle count) nor after it stops (back to the count before it
//     started).
//
// It logs the figures: requests, errors during the outage, the slowest
// answer during it, and the recovery time. It is not parallel because it
// counts the goroutines of the whole test process.
func TestDatabaseOutageUnderLoad(t *testing.T) {
	directOnly(t)
	if testing.Short() {
		t.Skip("20 s of load; not with -short")
	}
	const (
		poolTimeout   = 2 * time.Second
		loadFor       = 20 * time.Second
		outageAt      = 5 * time.Second
		outageFor     = 5 * time.Second
		recoverWithin = 2 * time.Second
		// slack covers the HTTP round trip and scheduling on a busy
		// 2-core machine on top of pool_timeout.
		slack     = 500 * time.Millisecond
		signers   = 3
		readers   = 3
		pause     = 10 * time.Millisecond
		maxPerRun = 2500 // per client: bounds the traffic whatever the speed
	)
	pg := startPrivateCluster(t)
	ctx := context.Background()
	if _, err := pgcluster.EnsureDatabase(ctx, pg.URL("postgres"), "accounts"); err != nil {
		t.Fatal(err)
	}
	migrateDatabase(t, pg.URL("accounts"))

	idleHTTP()
	goroutinesBefore := settledGoroutines(0, 5*time.Second)
	s := startServerOn(t, pg.URL("accounts"), map[string]string{
		"ACCOUNTS_DATABASE_POOL_TIMEOUT": poolTimeout.String(),
		"ACCOUNTS_DATABASE_POOL_SIZE":    "2",
		"ACCOUNTS_DATABASE_MAX_OVERFLOW": "6",
		"ACCOUNTS_LOG_LEVEL":             "info",
	})

	// The readers log in before the load starts.
	tokens, signerPasswords := outageClients(s, readers, signers)
	transport := &http.Transport{MaxIdleConnsPerHost: signers + readers + 1}
	httpc := &http.Client{Transport: transport, Timeout: 15 * time.Second}
	defer transport.CloseIdleConnections()
	send := func(method, path, token string, body any) outcome {
		return sendLoad(httpc, s, method, path, token, body)
	}
	// Warm up, so the idle goroutine count includes the pool's connections
	// and the transport's keep-alive connections are closed again after.
	for range 20 {
		send("GET", "/api/v1/account", tokens[0], nil)
	}
	transport.CloseIdleConnections()
	idleHTTP()
	goroutinesIdle := settledGoroutines(0, 5*time.Second)

	l := startOutageLoad(send, tokens, signerPasswords, loadFor, pause, maxPerRun)
	defer l.stop()
	t0 := l.t0

	down, stopped, back := outage(t, pg, t0.Add(outageAt), outageFor)
	l.wg.Wait()
	loadEnd := time.Now()

	// The promises, request by request.
	fig := judgeOutage(t, outageRun{outcomes: l.outcomes, probes: l.probes, t0: t0, down: down, back: back,
		poolTimeout: poolTimeout, recoverWithin: recoverWithin, slack: slack})

	// Sign-ups: 201 means stored; an error means absent or complete.
	created, lostAnswers := checkSignups(t, pg.URL("accounts"), l.signed)

	// A sign-up whose answer was lost is a whole account: it can log in.
	lostAnswersLogIn(t, s, lostAnswers, signerPasswords)

	// Goroutines: back to the idle count while serving, and to the count
	// before the server started once it has stopped.
	goroutinesAfterLoad, goroutinesAfterStop := goroutinesBack(t, s, transport, goroutinesBefore, goroutinesIdle)

	t.Logf("load: %d requests in %s by %d sign-up and %d reading clients (%v by status; 0 = no answer)",
		fig.total, loadEnd.Sub(t0).Round(time.Millisecond), signers, readers, fig.statuses)
	t.Logf("outage: stop began at +%s, PostgreSQL down at +%s (stop took %s), accepting again at +%s",
		down.Sub(t0).Round(time.Millisecond), stopped.Sub(t0).Round(time.Millisecond), stopped.Sub(down).Round(time.Millisecond), back.Sub(t0).Round(time.Millisecond))
	t.Logf("during the outage: %d requests, %d answered 503 (every error), slowest answer %s (pool_timeout %s); slowest of the run %s",
		fig.during, fig.failedDuring, fig.maxDuring.Round(time.Millisecond), poolTimeout, fig.maxLatency.Round(time.Millisecond))
	t.Logf("recovery: last failed request ended %s after the database was back (%d failures ended after it); /readyz 200 again after %s",
		fig.recovery.Round(time.Millisecond), fig.failedAfter, fig.readyAgain.Round(time.Millisecond))
	t.Logf("sign-ups: %d answered 201, all stored; %d answered an error but were committed (answer lost with the connection) and log in; 0 incomplete rows",
		created, len(lostAnswers))
	t.Logf("goroutines: %d before the server, %d idle serving before the load, %d after load and outage, %d after the server stopped",
		goroutinesBefore, goroutinesIdle, goroutinesAfterLoad, goroutinesAfterStop)
}

// outage stops PostgreSQL at at and starts it again outageFor after it is
// down, returning when the stop began, when it was down and when it was
// back.
func outage(t *testing.T, pg *pgcluster.Cluster, at time.Time, outageFor time.Duration) (down, stopped, back time.Time) {
	t.Helper()
	time.Sleep(time.Until(at))
	down = time.Now()
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := pg.Stop(stopCtx); err != nil {
		t.Fatalf("stop PostgreSQL: %v", err)
	}
	cancel()
	stopped = time.Now()
	time.Sleep(outageFor)
	restartCluster(t, pg)
	back = time.Now()
	return down, stopped, back
}

// goroutinesBack checks that the goroutines go back to idle (their count
// while serving before the load) and, once the server s stops, to before
// (their count before it started); it returns both counts.
func goroutinesBack(t *testing.T, s *server, transport *http.Transport, before, idle int) (afterLoad, afterStop int) {
	t.Helper()
	transport.CloseIdleConnections()
	idleHTTP()
	afterLoad = settledGoroutines(idle, 10*time.Second)
	if afterLoad > idle {
		t.Errorf("goroutines: %d idle before the load, %d after it and the outage", idle, afterLoad)
		logGoroutines(t)
	}
	if err := s.stop(); err != nil {
		t.Errorf("serve returned %v", err)
	}
	idleHTTP()
	afterStop = settledGoroutines(before, 10*time.Second)
	if afterStop > before {
		t.Errorf("goroutines: %d before the server started, %d after it stopped", before, afterStop)
		logGoroutines(t)
	}
	return afterLoad, afterStop
}

// outageLoad is the load of TestDatabaseOutageUnderLoad: what every
// request got, the /readyz probes, and the status of each sign-up
// (username to status, 0: transport error).
type outageLoad struct {
	mu               sync.Mutex
	outcomes, probes []outcome
	signed           map[string]int
	wg               sync.WaitGroup
	t0               time.Time
	stop             context.CancelFunc
}

// startOutageLoad starts, for loadFor, a sign-up client per signer
// password, a reading client per token (each at most maxPerRun requests,
// pause apart) and a /readyz probe every 100 ms.
func startOutageLoad(send func(method, path, token string, body any) outcome, tokens, signerPasswords []string, loadFor, pause time.Duration, maxPerRun int) *outageLoad {
	l := &outageLoad{signed: map[string]int{}}
	keep := func(o outcome) {
		l.mu.Lock()
		l.outcomes = append(l.outcomes, o)
		l.mu.Unlock()
	}
	loadCtx, stop := context.WithTimeout(context.Background(), loadFor)
	l.stop, l.t0 = stop, time.Now()
	for w := range signerPasswords {
		l.wg.Go(func() {
			for i := 0; i < maxPerRun && loadCtx.Err() == nil; i++ {
				name := fmt.Sprintf("load%d_%05d", w, i)
				o := send("POST", "/api/v1/account/signup", "", map[string]string{"username": name, "password": signerPasswords[w]})
				o.username = name
				keep(o)
				l.mu.Lock()
				l.signed[name] = o.status
				l.mu.Unlock()
				time.Sleep(pause)
			}
		})
	}
	for r := range tokens {
		l.wg.Go(func() {
			for i := 0; i < maxPerRun && loadCtx.Err() == nil; i++ {
				keep(send("GET", "/api/v1/account", tokens[r], nil))
				time.Sleep(pause)
			}
		})
	}
	l.wg.Go(func() {
		for loadCtx.Err() == nil {
			o := send("GET", "/readyz", "", nil)
			l.mu.Lock()
			l.probes = append(l.probes, o)
			l.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	})
	return l
}

// outageClients signs up and logs in the readers (returning their
// tokens) and makes the signers' passwords.
func outageClients(s *server, readers, signers int) (tokens, signerPasswords []string) {
	tokens = make([]string, readers)
	for i := range tokens {
		c := s.newClient(false)
		name, pw := fmt.Sprintf("reader%d", i), "reader-pw-"+randomHex(6)
		c.signUp(name, pw)
		c.login(name, pw)
		tokens[i] = c.token
	}
	signerPasswords = make([]string, signers)
	for i := range signerPasswords {
		signerPasswords[i] = "signer-pw-" + randomHex(6)
		s.addSecret(signerPasswords[i])
	}
	return tokens, signerPasswords
}

// outageRun is what TestDatabaseOutageUnderLoad saw and the limits it
// holds the answers to.
type outageRun struct {
	outcomes, probes                  []outcome
	t0, down, back                    time.Time
	poolTimeout, recoverWithin, slack time.Duration
}

// outageFigures are the figures the test logs.
type outageFigures struct {
	total, during, failedDuring, failedAfter int
	maxDuring, maxLatency                    time.Duration
	recovery, readyAgain                     time.Duration
	statuses                                 map[int]int
}

// judgeOutage checks the promises request by request: an answer, 2xx or
// 503, within pool_timeout, failures only while the database was down (or
// within recoverWithin of its return), /readyz 200 again soon after.
func judgeOutage(t *testing.T, run outageRun) outageFigures {
	t.Helper()
	fig := outageFigures{statuses: map[int]int{}}
	var lastFailureEnd time.Time
	down, back, t0 := run.down, run.back, run.t0
	broken := 0
	report := func(format string, args ...any) {
		t.Helper()
		if broken++; broken <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, o := range run.outcomes {
		fig.total++
		fig.statuses[o.status]++
		lat := o.end.Sub(o.start)
		fig.maxLatency = max(fig.maxLatency, lat)
		inOutage := o.end.After(down) && o.start.Before(back)
		if inOutage {
			fig.during++
			fig.maxDuring = max(fig.maxDuring, lat)
		}
		ok := o.err == nil && (o.status == http.StatusOK || o.status == http.StatusCreated)
		run.checkAnswer(o, ok, report)
		if ok {
			continue
		}
		if inOutage {
			fig.failedDuring++
		}
		if o.end.After(back) {
			fig.failedAfter++
			if o.end.After(lastFailureEnd) {
				lastFailureEnd = o.end
			}
		}
		if o.end.Before(down) || !o.start.Before(back.Add(run.recoverWithin)) {
			report("%s %s failed at +%s (%d) while the database was up (down +%s to +%s)", o.method, o.path,
				o.start.Sub(t0).Round(time.Millisecond), o.status, down.Sub(t0).Round(time.Millisecond), back.Sub(t0).Round(time.Millisecond))
		}
	}
	if broken > 20 {
		t.Errorf("… and %d more broken promises", broken-20)
	}
	if lastFailureEnd.After(back) {
		fig.recovery = lastFailureEnd.Sub(back)
	}
	fig.readyAgain = readyAgainAfter(run.probes, back)
	if fig.failedDuring == 0 {
		t.Error("no request failed during the outage: the database was not really down")
	}
	if fig.readyAgain < 0 || fig.readyAgain > run.recoverWithin+run.slack {
		t.Errorf("/readyz answered 200 %s after the database was back, want within %s", fig.readyAgain, run.recoverWithin)
	}
	return fig
}

// checkAnswer reports an answer that is neither 2xx (ok) nor 503, or that
// took longer than pool_timeout.
func (run outageRun) checkAnswer(o outcome, ok bool, report func(format string, args ...any)) {
	lat, at := o.end.Sub(o.start), o.start.Sub(run.t0).Round(time.Millisecond)
	switch {
	case o.err != nil:
		report("%s %s at +%s: %v (after %s)", o.method, o.path, at, o.err, lat.Round(time.Millisecond))
	case !ok && o.status != http.StatusServiceUnavailable:
		report("%s %s at +%s: status %d, want 2xx or 503", o.method, o.path, at, o.status)
	}
	if lat > run.poolTimeout+run.slack {
		report("%s %s at +%s took %s, more than pool_timeout %s", o.method, o.path, at, lat.Round(time.Millisecond), run.poolTimeout)
	}
}

// readyAgainAfter is how long after back the first probe started after it
// answered 200, or -1.
func readyAgainAfter(probes []outcome, back time.Time) time.Duration {
	for _, p := range probes {
		if p.start.After(back) && p.status == http.StatusOK {
			return p.end.Sub(back)
		}
	}
	return -1
}

// checkSignups checks, on the database at url, that every sign-up answered
// 201 is stored, that every stored one was signed up, and that no row is
// incomplete; it returns how many were answered 201 and those stored
// whose answer was an error (lost with the connection).
func checkSignups(t *testing.T, url string, signed map[string]int) (created int, lostAnswers []string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	stored := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT username FROM users WHERE username LIKE 'load%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		stored[name] = true
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for name, status := range signed {
		switch {
		case status == http.StatusCreated:
			created++
			if !stored[name] {
				t.Errorf("sign-up %s answered 201 but is not in the database", name)
			}
		case stored[name]:
			lostAnswers = append(lostAnswers, name)
		}
	}
	for name := range stored {
		if _, ok := signed[name]; !ok {
			t.Errorf("user %s is in the database but was never signed up", name)
		}
	}
	var incomplete int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM users
		WHERE username IS NULL OR password_hash IS NULL OR convert_from(password_hash, 'UTF8') NOT LIKE '$argon2id$%'
		   OR role IS NULL OR is_active IS NOT TRUE OR created_at IS NULL OR updated_at IS NULL`).Scan(&incomplete); err != nil {
		t.Fatal(err)
	}
	if incomplete != 0 {
		t.Errorf("%d users rows are incomplete", incomplete)
	}
	_ = db.Close() // before the goroutines are counted
	return created, lostAnswers
}

// lostAnswersLogIn logs in (up to five of) the sign-ups whose answer was
// lost: each is a whole account.
func lostAnswersLogIn(t *testing.T, s *server, lostAnswers, signerPasswords []string) {
	t.Helper()
	sort.Strings(lostAnswers)
	for _, name := range lostAnswers[:min(len(lostAnswers), 5)] {
		var w int
		_, _ = fmt.Sscanf(name, "load%d_", &w)
		r := s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": name, "password": signerPasswords[w]})
		expect(t, r, http.StatusOK)
		var v struct {
			AccessToken string `json:"access_token"`
		}
		r.json(t, &v)
		s.addToken(v.AccessToken)
	}
}

// outcome is one request of a load test.
type outcome struct {
	method, path string
	username     string
	start, end   time.Time
	status       int
	err          error
}

// sendLoad makes one request of a load test and records it with the
// harness, which checks it against the OpenAPI document. A 503 must be the
// service_unavailable problem with Retry-After, or its outcome has an err.
func sendLoad(httpc *http.Client, s *server, method, path, token string, body any) outcome {
	o := outcome{method: method, path: path, start: time.Now()}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		o.end, o.err = time.Now(), err
		return o
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	o.end, o.err, o.status = time.Now(), err, resp.StatusCode
	s.record(req, &response{Response: resp, body: b})
	if o.status == http.StatusServiceUnavailable {
		var p problem
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if json.Unmarshal(b, &p) != nil || p.Code != "service_unavailable" || ra < 1 {
			o.err = fmt.Errorf("503 without the service_unavailable problem and Retry-After (%q): %s", resp.Header.Get("Retry-After"), b)
		}
	}
	return o
}

// migrateDatabase applies the embedded migrations to the database at url.
func migrateDatabase(t *testing.T, url string) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := migrate.ApplyAll(context.Background(), db, &migrate.EmbeddedDir{FS: migrations.FS}, "accounts tests"); err != nil {
		t.Fatalf("migrate %s: %v", url, err)
	}
}

// idleHTTP closes the keep-alive connections of the default transport
// (which loadDocument uses), whose goroutines would count as leaks.
func idleHTTP() {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// settledGoroutines waits until the number of goroutines is at most target
// (0: until it stops changing for half a second), or within passes, and
// returns it. It counts with goroutines.
func settledGoroutines(target int, within time.Duration) int {
	deadline := time.Now().Add(within)
	last, since := goroutines(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		n := goroutines()
		if target > 0 && n <= target {
			return n
		}
		if n != last {
			last, since = n, time.Now()
		} else if target == 0 && time.Since(since) > 500*time.Millisecond {
			return n
		}
	}
	return goroutines()
}

// maxPgxReaders bounds the background readers goroutines leaves out: one
// per pool connection at most (pool_size + max_overflow of the test).
const maxPgxReaders = 8

// goroutines counts the goroutines of the process except pgx's background
// readers: pgx starts one on a connection whose write takes over 15 ms
// (on a busy machine, a descheduled writer), and after the write it stays
// blocked reading the idle connection until the connection is used again
// or closed. There is at most one per pool connection, so it is not a
// leak; goroutines fails the test beyond that bound.
func goroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	all := strings.Split(string(buf), "\n\n")
	readers := 0
	for _, g := range all {
		if strings.Contains(g, "pgconn/internal/bgreader.(*BGReader).bgRead") {
			readers++
		}
	}
	if readers > maxPgxReaders {
		// Counted as goroutines like any other: more than one per pool
		// connection is a leak.
		return len(all)
	}
	return len(all) - readers
}

// logGoroutines logs the stacks of every goroutine, grouped, for a leak.
func logGoroutines(t *testing.T) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	groups := map[string]int{}
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		lines := strings.Split(g, "\n")
		if len(lines) > 1 {
			groups[strings.Join(lines[1:min(len(lines), 21)], "\n")]++
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		t.Logf("%d goroutine(s):\n%s", groups[k], k)
	}
}
