package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/devinfra/pgcluster"
	"accounts/internal/migrate"
	"accounts/internal/password"
	"accounts/migrations"
)

// plan is the size of a run: QUICK fits in a minute; the full run is the
// one RESULTS.md records.
type plan struct {
	quick       bool
	smallUsers  int
	largeUsers  int
	warmup      time.Duration
	duration    time.Duration
	rounds      int // alternating real/baseline rounds of measurement 1
	conns       int // connections of measurements 1 and 2
	listConns   int
	hashConns   int
	overConns   int
	rssConns    int
	migrateReps int
	profile     bool
}

func newPlan(quick bool) plan {
	if quick {
		return plan{quick: true, smallUsers: 10_000, largeUsers: 200_000, warmup: 500 * time.Millisecond,
			duration: 2 * time.Second, rounds: 1, conns: 16, listConns: 8, hashConns: 4, overConns: 64,
			rssConns: 64, migrateReps: 1, profile: false}
	}
	return plan{smallUsers: 10_000, largeUsers: 1_000_000, warmup: 2 * time.Second,
		duration: 8 * time.Second, rounds: 3, conns: 16, listConns: 8, hashConns: 4, overConns: 64,
		rssConns: 64, migrateReps: 3, profile: true}
}

// runner holds the state of one benchmark run.
type runner struct {
	plan
	accountsBin string
	selfBin     string
	serverURL   string // any database on the server; databases are created beside it
	work        string // scratch directory of this run
	outDir      string // where the profile and the table are kept
	cfg         *config.Config
	prefix      string // name prefix of this run's databases
	dbs         []string
	procs       []*server

	token    string    // the admin's session token
	targetID uuid.UUID // the user GET /users/{id} reads
	pwHash   []byte    // the hash every seeded user has

	only map[string]bool // measurements to run; empty means all
	// compare are other accounts binaries (such as older builds) that
	// measurement 1 loads beside this one.
	compare []namedBinary
	// peer is another stack serving GET /users/{id} (the seed's, in
	// bench/seedpeer) that measurement 1 loads beside this one, named
	// peerName.
	peer, peerName string
	pgVersion      string
	smallDB        string // the database of measurements 1–5
	table          []row
	timings        []timing
	ratios         []ratio
}

// row is one line of the results table.
// getServer is one server of measurement 1, with its name in the table.
type getServer struct {
	name string
	s    *server
}

type row struct {
	measure, variant string
	res              loadResult
	rss              float64
	note             string
}

// ratio is one of the numbers the run ends with.
type ratio struct {
	name   string
	value  float64
	target string
}

// benchPassword is the password of every seeded user.
const benchPassword = "bench-password-1"

func runCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "a short check of the harness (smaller tables, shorter loads)")
	accountsBin := fs.String("accounts", "", "the accounts binary (built by bench/run.sh)")
	outDir := fs.String("out", ".data/bench", "directory for the CPU profile and the results table of this run")
	only := fs.String("only", "", "comma-separated measurements to run (1 and 2 go together, 3, 4, 5, 6, 7); empty runs all")
	profile := fs.String("profile", "", "take the CPU profile of measurement 2: true or false (default: in the full run only)")
	compare := fs.String("compare", "", "NAME=PATH[,NAME=PATH...]: other accounts binaries (older builds) that measurement 1 loads beside this one; the service's CPU per request should be at most the first's")
	peer := fs.String("peer", "", "NAME=PATH: another stack's server (bench/seedpeer/seedpeer.py) that measurement 1 loads beside this one")
	rounds := fs.Int("rounds", 0, "rounds of measurement 1 (default: 3 in the full run, 1 in the quick one); as many as it has servers puts each server once in every place of the order")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 0 {
		return fmt.Errorf("--rounds must be 1 or more, not %d", *rounds)
	}
	if *accountsBin == "" {
		return errors.New("--accounts is required (bench/run.sh passes it)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg, err := config.Load(config.Sources{Getenv: os.Getenv})
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "accounts-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err := os.RemoveAll(work); err != nil {
			fmt.Fprintln(os.Stderr, "bench: remove the work directory:", err)
		}
	}()
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	r := &runner{plan: newPlan(*quick), accountsBin: *accountsBin, selfBin: self, work: work, outDir: *outDir,
		cfg: cfg, prefix: "accounts_bench_" + hex.EncodeToString(suffix), only: map[string]bool{}}
	for _, m := range strings.Split(*only, ",") {
		if m = strings.TrimSpace(m); m != "" {
			r.only[m] = true
		}
	}
	if *profile != "" {
		r.profile = *profile == "true"
	}
	if *rounds > 0 {
		r.rounds = *rounds
	}
	if r.compare, err = namedPaths("compare", *compare); err != nil {
		return err
	}
	if r.peerName, r.peer, err = namedPath("peer", *peer); err != nil {
		return err
	}
	defer r.cleanup()
	// A bound on the whole run, so a stuck step (a lock held by someone
	// else, a server that stopped answering) ends it instead of hanging.
	limit := 40 * time.Minute
	if *quick {
		limit = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	if err := r.run(ctx); err != nil {
		return err
	}
	r.report(os.Stdout, time.Since(start))
	return nil
}

func (r *runner) cleanup() {
	for _, p := range r.procs {
		p.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, db := range r.dbs {
		if err := r.exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(os.Stderr, "bench: drop", db+":", err)
		}
	}
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func (r *runner) run(ctx context.Context) error {
	if err := r.findServer(ctx); err != nil {
		return err
	}
	r.pgVersion = r.serverVersion(ctx)
	small, err := r.newDatabase(ctx, "small", r.smallUsers)
	if err != nil {
		return err
	}
	r.smallDB = small
	real, err := r.start(ctx, "accounts serve (small)", small, r.accountsBin, "serve", "--addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	getPath := "/api/v1/users/" + r.targetID.String()
	auth := "Authorization: Bearer " + r.token
	if r.wants("1") {
		if err := r.getUser(ctx, small, real, getPath, auth); err != nil {
			return err
		}
	}
	if r.wants("5") {
		if err := r.peakRSS(ctx, real, getPath, auth); err != nil {
			return err
		}
	}
	// 3: listing, first page at two table sizes, a deep page by offset and by cursor.
	if r.wants("3") {
		if err := r.listing(ctx, real, auth); err != nil {
			return err
		}
	}
	// 4: sign-up and login against the raw hash rate; overload.
	if r.wants("4") {
		if err := r.hashing(ctx, real); err != nil {
			return err
		}
	}
	real.stop()
	// 6: migrate apply and migrate diff.
	if r.wants("6") {
		if err := r.migrations(ctx); err != nil {
			return err
		}
	}
	// 7: a migration of users under load, online and blocking.
	if r.wants("7") {
		return r.onlineMigration(ctx)
	}
	return nil
}

// getUser is measurements 1 and 2: GET /users/{id} as an admin on the
// service, the baseline, the floor and any other build to compare, in
// rounds, then pgbench running the same two queries.
func (r *runner) getUser(ctx context.Context, small string, real *server, getPath, auth string) error {
	servers, err := r.getUserServers(ctx, small, real)
	for _, s := range servers[1:] {
		defer s.s.stop()
	}
	if err != nil {
		return err
	}
	runs := make([][]loadResult, len(servers))
	for i := range r.rounds {
		// Rotate the order, so drift on a shared machine hits all alike.
		for k := range servers {
			j := (k + i) % len(servers)
			s := servers[j]
			res, rss, err := r.load(ctx, s.s, r.conns, "--url", "http://"+s.s.addr+getPath, "--header", auth)
			if err != nil {
				return err
			}
			runs[j] = append(runs[j], res)
			r.add("1 GET /users/{id}", fmt.Sprintf("%s, round %d, %d conns", s.name, i+1, r.conns), res, rss, "")
		}
	}
	realRPS := r.getUserRatios(runs)
	// pgbench opens r.conns connections of its own: the yardsticks' and
	// peers' pools would otherwise hold PostgreSQL's max_connections.
	for _, s := range servers[1:] {
		s.s.stop()
	}
	pg, err := r.pgbench(ctx, small, r.conns)
	if err != nil {
		return err
	}
	r.add("2 same two queries", fmt.Sprintf("pgbench -M prepared, %d clients", r.conns), pg, 0, "transactions of SessionSQL + UserSQL")
	r.ratio("get_user_throughput_vs_pgbench", realRPS/pg.OKPerSec, ">= 0.30")
	r.ratio("floor_throughput_vs_pgbench", median(runs[2], okPerSec)/pg.OKPerSec, "report")
	r.ratio("baseline_throughput_vs_pgbench", median(runs[1], okPerSec)/pg.OKPerSec, "report")
	if r.profile {
		return r.cpuProfile(ctx, small, getPath, auth)
	}
	return nil
}

// checkConnections refuses to start measurement 1 when PostgreSQL's
// max_connections cannot hold what it opens: each pool of a Go server
// keeps database.pool_size connections warm, the one being loaded opens up to
// r.conns, a peer's two workers keep up to pool_size each, and the
// harness needs a few. Past max_connections the servers answer 500 and
// 503 and the run measures refusals.
func (r *runner) checkConnections(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, r.dbURL("postgres"))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }() // a read
	var limit, reserved int
	if err := conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int`).Scan(&limit, &reserved); err != nil {
		return err
	}
	// The baseline and the floor hold two pools each: their own and the
	// one service.Open opens for the rest of the service.
	warm, pools := r.cfg.Database.PoolSize, 5+len(r.compare)
	if r.peer != "" {
		pools += 2
	}
	need := pools*warm + r.conns + 5
	if need > limit-reserved {
		return fmt.Errorf("measurement 1 opens about %d connections (%d pools × database.pool_size %d kept warm, the peer's two workers counted, %d for the loaded server, 5 for the harness) and PostgreSQL allows %d (max_connections %d - %d reserved): raise it (ALTER SYSTEM SET max_connections = %d, then restart PostgreSQL) or compare fewer builds",
			need, pools, warm, r.conns, limit-reserved, limit, reserved, need+reserved+20)
	}
	return nil
}

// namedBinary is a program measurement 1 loads, and the name it goes by.
type namedBinary struct{ name, path string }

// namedPaths splits the value of the flag name, NAME=PATH[,NAME=PATH...].
func namedPaths(flag, v string) ([]namedBinary, error) {
	var out []namedBinary
	for _, item := range strings.Split(v, ",") {
		name, path, err := namedPath(flag, item)
		if err != nil {
			return nil, err
		}
		if name != "" {
			out = append(out, namedBinary{name, path})
		}
	}
	return out, nil
}

// namedPath splits the value of the flag name, NAME=PATH; an empty value
// is neither.
func namedPath(flag, v string) (name, path string, err error) {
	if v == "" {
		return "", "", nil
	}
	if name, path, ok := strings.Cut(v, "="); ok && name != "" && path != "" {
		return name, path, nil
	}
	return "", "", fmt.Errorf("--%s must be NAME=PATH, not %q", flag, v)
}

// getUserServers starts the servers measurement 1 compares with the
// service (real, first): the baseline, the floor and, with --compare, the
// other build. It returns those it started even when one fails to start,
// for the caller to stop.
func (r *runner) getUserServers(ctx context.Context, small string, real *server) ([]getServer, error) {
	servers := []getServer{{"service (Ent)", real}}
	if err := r.checkConnections(ctx); err != nil {
		return servers, err
	}
	base, err := r.start(ctx, "bench serve --impl baseline", small, r.selfBin, "serve", "--impl", "baseline")
	if err != nil {
		return servers, err
	}
	servers = append(servers, getServer{"baseline (pgxpool)", base})
	floor, err := r.start(ctx, "bench serve --impl floor", small, r.selfBin, "serve", "--impl", "floor")
	if err != nil {
		return servers, err
	}
	servers = append(servers, getServer{"floor (bare Gin + pgxpool)", floor})
	for _, c := range r.compare {
		name := "accounts serve (" + c.name + ")"
		other, err := r.startEnv(ctx, name, r.knownEnv(ctx, name, c.path, r.env(small)), c.path, "serve", "--addr", "127.0.0.1:0")
		if err != nil {
			return servers, err
		}
		servers = append(servers, getServer{"service at " + c.name, other})
	}
	if r.peer != "" {
		other, err := r.start(ctx, r.peerName+" peer", small, r.peer, "--addr", "127.0.0.1:0")
		if err != nil {
			return servers, err
		}
		servers = append(servers, getServer{r.peerName + " (peer stack)", other})
	}
	return servers, nil
}

// getUserRatios records the ratios of measurement 1 from runs, in the
// order of getUserServers, and returns the service's median throughput.
func (r *runner) getUserRatios(runs [][]loadResult) (realRPS float64) {
	realRuns, baseRuns, floorRuns := runs[0], runs[1], runs[2]
	realRPS, baseRPS := median(realRuns, okPerSec), median(baseRuns, okPerSec)
	r.ratio("get_user_throughput_vs_baseline", realRPS/baseRPS, ">= 0.80")
	r.ratio("get_user_p99_vs_baseline", median(realRuns, p99)/median(baseRuns, p99), "<= 1.25")
	r.ratio("get_user_server_cpu_per_request_vs_baseline", median(realRuns, cpuPerReq)/median(baseRuns, cpuPerReq), "report")
	r.ratio("get_user_throughput_vs_floor", realRPS/median(floorRuns, okPerSec), "report")
	r.ratio("get_user_server_cpu_per_request_vs_floor", median(realRuns, cpuPerReq)/median(floorRuns, cpuPerReq), "report")
	for i, c := range r.compare {
		// The first build named is the one the service must not cost more
		// than (issue 32: c468e92); the others are reported.
		target := "report"
		if i == 0 {
			target = "<= 1.0"
		}
		r.ratio("get_user_server_cpu_per_request_vs_"+c.name, median(realRuns, cpuPerReq)/median(runs[3+i], cpuPerReq), target)
	}
	if r.peer != "" {
		// The peer is the last server: its CPU per request over the
		// service's, and its throughput over the service's.
		peerRuns := runs[len(runs)-1]
		r.ratio(r.peerName+"_server_cpu_per_request_vs_service", median(peerRuns, cpuPerReq)/median(realRuns, cpuPerReq), ">= 10")
		r.ratio("get_user_throughput_vs_"+r.peerName, realRPS/median(peerRuns, okPerSec), "report")
	}
	return realRPS
}

// peakRSS is measurement 5: the service's peak RSS at r.rssConns
// connections (every load above and below records its own).
func (r *runner) peakRSS(ctx context.Context, real *server, getPath, auth string) error {
	res, rss, err := r.load(ctx, real, r.rssConns, "--url", "http://"+real.addr+getPath, "--header", auth)
	if err != nil {
		return err
	}
	r.add("5 GET /users/{id}", fmt.Sprintf("service, %d conns", r.rssConns), res, rss, "")
	r.ratio("rss_mib_at_64_conns_vs_64mib", rss/64, "< 1")
	return nil
}

// wants reports whether measurement m is part of this run.
func (r *runner) wants(m string) bool { return len(r.only) == 0 || r.only[m] }

// findServer picks the PostgreSQL server: BENCH_DATABASE_URL, else the one
// at 127.0.0.1:5432, else a private cluster in .data/bench-postgres.
func (r *runner) findServer(ctx context.Context) error {
	candidates := []string{os.Getenv("BENCH_DATABASE_URL")}
	if candidates[0] == "" {
		candidates = []string{"postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"}
	}
	var lastErr error
	for _, u := range candidates {
		if lastErr = database.Ping(ctx, u, 3*time.Second); lastErr == nil {
			r.serverURL = u
			return nil
		}
	}
	if os.Getenv("BENCH_DATABASE_URL") != "" {
		return fmt.Errorf("BENCH_DATABASE_URL does not answer: %w", lastErr)
	}
	r.logf("nothing answers at 127.0.0.1:5432 (%v); starting a private cluster in .data/bench-postgres", lastErr)
	abs, err := filepath.Abs(filepath.Join(".data", "bench-postgres"))
	if err != nil {
		return err
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: abs, Settings: map[string]string{"max_connections": "200"}})
	if err != nil {
		return fmt.Errorf("no PostgreSQL for the benchmark: %w", err)
	}
	r.serverURL = c.URL("postgres")
	return nil
}

// dbURL is the URL of database name on the benchmark's server.
func (r *runner) dbURL(name string) string {
	u, _ := url.Parse(r.serverURL)
	u.Path = "/" + name
	return u.String()
}

func (r *runner) exec(ctx context.Context, db, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, r.dbURL(db))
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql, args...)
	return errors.Join(err, conn.Close(context.Background()))
}

// newDatabase creates a database of this run, applies the migrations, and
// seeds it with COPY: users users, one super admin with a live session, and
// statistics.
func (r *runner) newDatabase(ctx context.Context, tag string, users int) (string, error) {
	name := r.prefix + "_" + tag
	if err := r.exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	r.dbs = append(r.dbs, name)
	if users < 0 {
		return name, nil
	}
	pool, err := pgxpool.New(ctx, r.dbURL(name))
	if err != nil {
		return "", err
	}
	defer pool.Close()
	dir, _, err := migrate.OpenDir("migrations", migrations.FS)
	if err != nil {
		return "", err
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer func() { _ = sqlDB.Close() }() // the pool it wraps is closed after it
	if err := migrate.ApplyAll(ctx, sqlDB, dir, "bench"); err != nil {
		return "", err
	}
	if r.pwHash == nil {
		if err := r.prepareCredentials(ctx); err != nil {
			return "", err
		}
	}
	start := time.Now()
	if err := r.seed(ctx, pool, users); err != nil {
		return "", fmt.Errorf("seed %s: %w", name, err)
	}
	r.logf("seeded %s with %d users by COPY in %s", name, users, time.Since(start).Round(time.Millisecond))
	return name, nil
}

func (r *runner) prepareCredentials(ctx context.Context) error {
	pw := r.cfg.Password
	h, err := password.New(password.Options{
		Params:        password.Params{Time: pw.Argon2Time, MemoryKiB: pw.Argon2MemoryKB, Threads: pw.Argon2Threads},
		Pepper:        []byte(pw.Pepper),
		MaxConcurrent: 1, MaxWait: time.Minute,
	})
	if err != nil {
		return err
	}
	hash, err := h.Hash(ctx, benchPassword)
	if err != nil {
		return err
	}
	r.pwHash = []byte(hash)
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	r.token = base64.RawURLEncoding.EncodeToString(b)
	return nil
}

// seed fills users by COPY (user0000001 …, created one second apart), adds
// the super admin benchadmin with a session that needs no extension for a
// day, and refreshes the statistics and the visibility map.
func (r *runner) seed(ctx context.Context, pool *pgxpool.Pool, n int) error {
	base := time.Now().Add(-time.Duration(n+1) * time.Second).UTC().Truncate(time.Second)
	i := 0
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "username", "password_hash", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= n {
				return nil, nil
			}
			i++
			at := base.Add(time.Duration(i) * time.Second)
			return []any{uuid.Must(uuid.NewV7()), fmt.Sprintf("user%07d", i), r.pwHash, at, at}, nil
		}))
	if err != nil {
		return err
	}
	adminID := uuid.Must(uuid.NewV7())
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, username, password_hash, role) VALUES ($1, 'benchadmin', $2, 'SUPER_ADMIN')`, adminID, r.pwHash); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(r.token))
	if _, err := pool.Exec(ctx, `INSERT INTO auth_sessions (id, token_hash, user_id, expires_at) VALUES ($1, $2, $3, now() + interval '1 day')`,
		uuid.Must(uuid.NewV7()), sum[:], adminID); err != nil {
		return err
	}
	target := fmt.Sprintf("user%07d", min(n, 5000))
	if err := pool.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, target).Scan(&r.targetID); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, "VACUUM ANALYZE")
	return err
}

// env is the environment of a server process on database db.
func (r *runner) env(db string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "ACCOUNTS_DATABASE_URL=") ||
			strings.HasPrefix(kv, "ACCOUNTS_LOG_FORMAT=") || strings.HasPrefix(kv, "ACCOUNTS_AUTH_SIGNUPS_PER_ADDRESS=") ||
			strings.HasPrefix(kv, "ACCOUNTS_METRICS_ADDR=") || strings.HasPrefix(kv, "ACCOUNTS_AUTH_LOGIN_FAILURES_PER_") ||
			strings.HasPrefix(kv, "ACCOUNTS_AUTH_VERIFICATIONS_PER_") || strings.HasPrefix(kv, "ACCOUNTS_HTTP_TRUSTED_PROXIES=")
	})
	// Every load comes from one address, far past the budgets of one
	// address, user and device (auth.signups_per_address,
	// auth.login_failures_per_* and auth.verifications_per_*; the login
	// overload was answered 429 with them on): the benchmark measures the
	// service's work and its 503 past max_wait, not its 429s. (One address
	// also holds at most max_concurrent - 1 hashing slots, the fair share
	// of internal/password: the hashing loads name hashClients addresses
	// in X-Forwarded-For, which the servers take from loopback as from a
	// trusted proxy.) Several servers run at once, so each takes a free
	// port for its /metrics listener instead of the default 127.0.0.1:3097.
	return append(env, "DATABASE_URL="+r.dbURL(db), "ACCOUNTS_LOG_FORMAT=json", "ACCOUNTS_AUTH_SIGNUPS_PER_ADDRESS=0",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_USERNAME=0", "ACCOUNTS_AUTH_LOGIN_FAILURES_PER_ADDRESS=0",
		"ACCOUNTS_AUTH_LOGIN_FAILURES_PER_DEVICE=0", "ACCOUNTS_AUTH_VERIFICATIONS_PER_ACCOUNT=0",
		"ACCOUNTS_AUTH_VERIFICATIONS_PER_ADDRESS=0", "ACCOUNTS_METRICS_ADDR=127.0.0.1:0", "ACCOUNTS_HTTP_TRUSTED_PROXIES=127.0.0.1")
}

func (r *runner) start(ctx context.Context, name, db, bin string, args ...string) (*server, error) {
	return r.startEnv(ctx, name, r.env(db), bin, args...)
}

func (r *runner) startEnv(ctx context.Context, name string, env []string, bin string, args ...string) (*server, error) {
	logPath := filepath.Join(r.work, fmt.Sprintf("server-%d.log", len(r.procs)))
	s, err := startServer(ctx, name, logPath, env, bin, args...)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, s)
	return s, nil
}

// unknownVariable is how a build of accounts refuses a variable that none
// of its configuration keys reads.
var unknownVariable = regexp.MustCompile(`environment variable (ACCOUNTS_[A-Z0-9_]+): no configuration key reads it`)

// knownEnv drops from env the ACCOUNTS_ variables an older build of
// accounts (--compare) refuses because it has no key for them, such as the
// budgets of later issues, asking the build itself (`config show`).
func (r *runner) knownEnv(ctx context.Context, name, bin string, env []string) []string {
	for range 10 {
		cmd := exec.CommandContext(ctx, bin, "config", "show")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		unknown := unknownVariable.FindAllStringSubmatch(string(out), -1)
		if err == nil || len(unknown) == 0 {
			return env
		}
		for _, m := range unknown {
			r.logf("%s has no key for %s: started without it", name, m[1])
			env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, m[1]+"=") })
		}
	}
	return env
}

// load runs one load process against s and returns its result and the
// server's peak RSS during it.
func (r *runner) load(ctx context.Context, s *server, conns int, args ...string) (loadResult, float64, error) {
	reset := s.resetPeakRSS()
	args = append([]string{"load", "--conns", fmt.Sprint(conns), "--warmup", r.warmup.String(), "--duration", r.duration.String()}, args...)
	cpu0 := s.cpuSeconds()
	res, err := r.loadProcess(ctx, args...)
	if err != nil {
		return res, 0, err
	}
	// CPU per answered request of the server process, warm-up included in
	// both the time and the count (the load process reports the measured
	// part only, so scale by the whole run's share).
	if total := res.OKPerSec * (res.Seconds + r.warmup.Seconds()); total > 0 {
		res.ServerCPUus = (s.cpuSeconds() - cpu0) / total * 1e6
	}
	rss := s.peakRSS()
	if !reset {
		rss = -rss // a peak since the process started, not of this load
	}
	return res, rss, nil
}

func (r *runner) loadProcess(ctx context.Context, args ...string) (loadResult, error) {
	var res loadResult
	cmd := exec.CommandContext(ctx, r.selfBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return res, fmt.Errorf("load %v: %w: %s", args, err, stderr.String())
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("load output %q: %w", out, err)
	}
	if res.Errors > 0 {
		r.logf("load %v: %d transport errors, first: %s", args, res.Errors, res.FirstError)
	}
	return res, nil
}

func (r *runner) add(measure, variant string, res loadResult, rss float64, note string) {
	r.table = append(r.table, row{measure: measure, variant: variant, res: res, rss: rss, note: note})
	r.logf("%s | %s | %.0f ok/s | p50 %.2f ms | p99 %.2f ms | cpu %.0f µs/req | rss %.1f MiB | %v %s", measure, variant, res.OKPerSec, res.P50Ms, res.P99Ms, res.ServerCPUus, rss, res.Codes, note)
}

func (r *runner) ratio(name string, v float64, target string) {
	r.ratios = append(r.ratios, ratio{name: name, value: v, target: target})
	r.logf("%s = %.3f (target %s)", name, v, target)
}

func okPerSec(l loadResult) float64  { return l.OKPerSec }
func p99(l loadResult) float64       { return l.P99Ms }
func cpuPerReq(l loadResult) float64 { return l.ServerCPUus }

func median(rs []loadResult, f func(loadResult) float64) float64 {
	vs := make([]float64, 0, len(rs))
	for _, r := range rs {
		vs = append(vs, f(r))
	}
	slices.Sort(vs)
	if len(vs) == 0 {
		return 0
	}
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// getJSON fetches path from s as the admin.
func getJSON(s *server, path, auth string, dst any) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+s.addr+path, nil)
	if err != nil {
		return err
	}
	k, v, _ := strings.Cut(auth, ":")
	req.Header.Set(k, strings.TrimSpace(v))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return json.Unmarshal(body, dst)
}

// report prints the table and ends with the line of name=ratio pairs.
func (r *runner) report(w io.Writer, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s, PostgreSQL %s; %s run in %s\n\n", machine(), r.pgVersion, map[bool]string{true: "QUICK", false: "full"}[r.quick], took.Round(time.Second))
	fmt.Fprintln(&b, "| measurement | variant | ok/s | p50 ms | p99 ms | max ms | server CPU µs/req | peak RSS MiB | answers | note |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|---:|---:|---|---|")
	for _, t := range r.table {
		rss := "-"
		switch {
		case t.rss > 0:
			rss = fmt.Sprintf("%.1f", t.rss)
		case t.rss < 0: // the kernel refused to reset the peak
			rss = fmt.Sprintf("%.1f since start", -t.rss)
		}
		codes := make([]string, 0, len(t.res.Codes))
		for c, n := range t.res.Codes {
			codes = append(codes, fmt.Sprintf("%s×%d", c, n))
		}
		slices.Sort(codes)
		cpu := "-"
		if t.res.ServerCPUus > 0 {
			cpu = fmt.Sprintf("%.0f", t.res.ServerCPUus)
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.2f | %.2f | %.2f | %s | %s | %s | %s |\n", t.measure, t.variant, t.res.OKPerSec,
			t.res.P50Ms, t.res.P99Ms, t.res.MaxMs, cpu, rss, strings.Join(codes, " "), t.note)
	}
	if len(r.timings) > 0 {
		fmt.Fprintln(&b, "\n| command | wall ms (median) | runs | note |")
		fmt.Fprintln(&b, "|---|---:|---|---|")
		for _, t := range r.timings {
			runs := make([]string, 0, len(t.ms))
			for _, v := range t.ms {
				runs = append(runs, fmt.Sprintf("%.0f", v))
			}
			fmt.Fprintf(&b, "| %s | %.1f | %s | %s |\n", t.name, medianOf(t.ms), strings.Join(runs, ", "), t.note)
		}
	}
	fmt.Fprintln(&b, "\n| ratio | value | target |")
	fmt.Fprintln(&b, "|---|---:|---|")
	pairs := make([]string, 0, len(r.ratios))
	for _, q := range r.ratios {
		fmt.Fprintf(&b, "| %s | %.3f | %s |\n", q.name, q.value, q.target)
		pairs = append(pairs, fmt.Sprintf("%s=%.3f", q.name, q.value))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, strings.Join(pairs, " "))
	_ = os.WriteFile(filepath.Join(r.outDir, "last-run.md"), []byte(b.String()), 0o644)
	_, _ = io.WriteString(w, b.String())
}

// machine describes the machine in one line: CPU model, cores, PostgreSQL
// and Go versions.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s", model, runtime.NumCPU(), runtime.Version())
}

// serverVersion is the PostgreSQL server version.
func (r *runner) serverVersion(ctx context.Context) string {
	conn, err := pgx.Connect(ctx, r.serverURL)
	if err != nil {
		return "?"
	}
	defer func() { _ = conn.Close(context.Background()) }() // a read; the answer is in
	var v string
	_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v
}
