package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/bench/baseline"
	"accounts/migrations"
)

// timing is one wall-clock measurement of measurement 6.
type timing struct {
	name string
	ms   []float64
	note string
}

// pgbench runs the two statements of the endpoint (baseline.SessionSQL and
// baseline.UserSQL, with the same parameters as the HTTP load) as one
// pgbench transaction, prepared, with clients clients: PostgreSQL's own
// ceiling for this endpoint. Latencies come from pgbench's per-transaction
// log.
func (r *runner) pgbench(ctx context.Context, db string, clients int) (loadResult, error) {
	var res loadResult
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
		if len(matches) == 0 {
			return res, fmt.Errorf("pgbench not found; install postgresql-contrib (Debian) or the PostgreSQL client tools")
		}
		bin = matches[len(matches)-1]
	}
	script := filepath.Join(r.work, "get_user.sql")
	body := strings.Replace(baseline.SessionSQL, "$1", ":tok", 1) + ";\n" + strings.Replace(baseline.UserSQL, "$1", ":uid", 1) + ";\n"
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		return res, err
	}
	sum := sha256.Sum256([]byte(r.token))
	base := []string{"-n", "-M", "prepared", "-c", fmt.Sprint(clients), "-j", "2", "-f", script,
		"-D", `tok=\x` + hex.EncodeToString(sum[:]), "-D", "uid=" + r.targetID.String()}
	warm := append(slices.Clone(base), "-T", fmt.Sprint(max(1, int(math.Ceil(r.warmup.Seconds())))), r.dbURL(db))
	if out, err := exec.CommandContext(ctx, bin, warm...).CombinedOutput(); err != nil {
		return res, fmt.Errorf("pgbench warm-up: %w: %s", err, out)
	}
	logDir := filepath.Join(r.work, "pgbench-log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return res, err
	}
	secs := max(1, int(math.Round(r.duration.Seconds())))
	args := append(slices.Clone(base), "-T", fmt.Sprint(secs), "-l", "--log-prefix", filepath.Join(logDir, "tx"), r.dbURL(db))
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("pgbench: %w: %s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindSubmatch(out)
	if m == nil {
		return res, fmt.Errorf("pgbench printed no tps: %s", out)
	}
	res.OKPerSec, _ = strconv.ParseFloat(string(m[1]), 64)
	res.Seconds = float64(secs)
	files, _ := filepath.Glob(filepath.Join(logDir, "tx*"))
	var lat []float64
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return res, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 3 {
				us, _ := strconv.ParseFloat(fields[2], 64)
				lat = append(lat, us/1000)
			}
		}
		_ = fh.Close() // read only
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		sum := 0.0
		for _, v := range lat {
			sum += v
		}
		q := func(p float64) float64 { return lat[min(n-1, int(p*float64(n)))] }
		res.Requests, res.MeanMs, res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs = uint64(n), sum/float64(n), q(.5), q(.9), q(.99), lat[n-1]
		res.Codes = map[string]int{"tx": n}
	}
	return res, nil
}

// cpuProfile runs the service's own stack (`bench serve --impl ent`) and
// then the baseline under the GET /users/{id} load, takes a CPU profile of
// each, and writes pprof's top entries of the service and the CPU per
// request of both, split by where the code comes from, to the output
// directory and to stderr.
func (r *runner) cpuProfile(ctx context.Context, db, getPath, auth string) error {
	var summary strings.Builder
	var split [2][]float64
	var perReq [2]float64
	for i, impl := range []string{"ent", "baseline"} {
		s, err := r.start(ctx, "bench serve --impl "+impl+" (profiled)", db, r.selfBin, "serve", "--impl", impl, "--pprof-addr", "127.0.0.1:0")
		if err != nil {
			return err
		}
		type loaded struct {
			res loadResult
			rss float64
			err error
		}
		done := make(chan loaded, 1)
		go func() {
			res, rss, err := r.load(ctx, s, r.conns, "--url", "http://"+s.addr+getPath, "--header", auth)
			done <- loaded{res, rss, err}
		}()
		time.Sleep(r.warmup + 200*time.Millisecond)
		secs := max(1, int(r.duration.Seconds())-1)
		profPath := filepath.Join(r.outDir, "get_user."+impl+".cpu.pprof")
		perr := fetchProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprof, secs), profPath)
		l := <-done
		s.stop()
		if perr != nil {
			return perr
		}
		if l.err != nil {
			return l.err
		}
		r.add("2 where the rest goes", fmt.Sprintf("bench serve --impl %s, profiled, %d conns", impl, r.conns), l.res, l.rss, "profile: "+profPath)
		perReq[i] = l.res.ServerCPUus
		if impl == "ent" {
			for _, mode := range [][]string{{"-top", "-nodecount=25"}, {"-top", "-cum", "-nodecount=45"}} {
				out, err := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, mode...), r.selfBin, profPath)...).CombinedOutput()
				if err != nil {
					r.logf("go tool pprof: %v: %s", err, out)
					return nil
				}
				summary.Write(out)
				summary.WriteString("\n")
			}
		}
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=100000", r.selfBin, profPath).CombinedOutput()
		if err != nil {
			r.logf("go tool pprof: %v: %s", err, out)
			return nil
		}
		split[i] = byOrigin(string(out))
	}
	summary.WriteString("Server CPU per request by origin (flat samples), service stack vs baseline:\n")
	fmt.Fprintf(&summary, "  %-44s %12s %12s %12s\n", "origin", "ent µs/req", "base µs/req", "difference")
	for j, g := range origins {
		e, b := split[0][j]/100*perReq[0], split[1][j]/100*perReq[1]
		fmt.Fprintf(&summary, "  %-44s %12.1f %12.1f %+12.1f\n", g.name, e, b, e-b)
	}
	fmt.Fprintf(&summary, "  %-44s %12.1f %12.1f %+12.1f\n", "total", perReq[0], perReq[1], perReq[0]-perReq[1])
	_ = os.WriteFile(filepath.Join(r.outDir, "get_user.cpu.txt"), []byte(summary.String()), 0o644)
	fmt.Fprintln(os.Stderr, summary.String())
	return nil
}

func fetchProfile(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end or given up
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.ReadFrom(resp.Body); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// origins groups functions by where their code comes from; the first match
// wins, and the last group takes the rest.
var origins = []struct{ name, re string }{
	{"Ent (entgo.io, accounts/ent)", `^(entgo\.io/|accounts/ent)`},
	{"database/sql and the pgx stdlib adapter", `^(database/sql|github\.com/jackc/pgx/v5/stdlib)`},
	{"pgx, pgconn, pgtype, puddle", `^github\.com/jackc/`},
	{"Gin", `^github\.com/gin-gonic/`},
	{"net/http, bufio, textproto", `^(net/http|net/textproto|bufio|net/url|mime)`},
	{"encoding/json, reflect, strconv, fmt", `^(encoding/json|reflect|strconv|fmt|github\.com/goccy|github\.com/bytedance)`},
	{"log/slog, prometheus", `^(log/slog|github\.com/prometheus)`},
	{"the service (accounts/internal, bench)", `^(accounts/|main\.)`},
	{"runtime: GC and allocation", `^runtime\.(gc|scan|mark|mallocgc|memclr|heap|greyobject|findObject|sweep|nextFree|(.*[Aa]lloc)|wbBuf|bulkBarrier|typePointers|spanOf|tryDefer|spanClass|memmove)`},
	{"syscalls and network poller", `^(syscall|internal/poll|internal/runtime/syscall|runtime\.netpoll|runtime/internal/syscall|net\.)`},
	{"runtime: scheduler, locks, other", `^runtime`},
	{"other", `.`},
}

// byOrigin sums pprof's flat percentages (from -top) over origins.
func byOrigin(top string) []float64 {
	sums := make([]float64, len(origins))
	res := make([]*regexp.Regexp, len(origins))
	for i, g := range origins {
		res[i] = regexp.MustCompile(g.re)
	}
	line := regexp.MustCompile(`^\s*[0-9.]+[mµn]?s\s+([0-9.]+)%\s+[0-9.]+%\s+[0-9.]+[mµn]?s\s+[0-9.]+%\s+(.+)$`)
	for _, l := range strings.Split(top, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		pct, _ := strconv.ParseFloat(m[1], 64)
		for i, re := range res {
			if re.MatchString(m[2]) {
				sums[i] += pct
				break
			}
		}
	}
	return sums
}

// listing measures GET /users?sort=created_at&limit=50 on the small and
// the large table, a deep page by offset, and a deep page by cursor when
// the API gives one.
func (r *runner) listing(ctx context.Context, small *server, auth string) error {
	large, err := r.newDatabase(ctx, "large", r.largeUsers)
	if err != nil {
		return err
	}
	big, err := r.start(ctx, "accounts serve (large)", large, r.accountsBin, "serve", "--addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer big.stop()
	first := "/api/v1/users?sort=created_at&limit=50"
	sizes := fmt.Sprintf("%dk vs %dk users", r.smallUsers/1000, r.largeUsers/1000)
	var firstRes [2]loadResult
	for i, s := range []*server{small, big} {
		n := []int{r.smallUsers, r.largeUsers}[i]
		res, rss, err := r.load(ctx, s, r.listConns, "--url", "http://"+s.addr+first, "--header", auth)
		if err != nil {
			return err
		}
		firstRes[i] = res
		r.add("3 GET /users?sort=created_at&limit=50", fmt.Sprintf("first page, %d users, %d conns", n, r.listConns), res, rss, "")
	}
	r.ratio("list_first_page_slowdown_"+strings.ReplaceAll(sizes, " ", "_"), firstRes[0].OKPerSec/firstRes[1].OKPerSec, "<= 1.5")

	deep := r.largeUsers - 100
	res, rss, err := r.load(ctx, big, r.listConns, "--url", fmt.Sprintf("http://%s%s&offset=%d", big.addr, first, deep), "--header", auth)
	if err != nil {
		return err
	}
	r.add("3 GET /users?sort=created_at&limit=50", fmt.Sprintf("offset=%d, %d users, %d conns", deep, r.largeUsers, r.listConns), res, rss, "")
	r.ratio("list_deep_offset_slowdown", firstRes[1].OKPerSec/res.OKPerSec, "report (flat would be 1)")

	// The cursor of the row just before the deep page, from the API itself.
	var page struct {
		NextCursor *string `json:"next_cursor"`
	}
	if err := getJSON(big, fmt.Sprintf("%s&offset=%d", strings.Replace(first, "limit=50", "limit=1", 1), deep-1), auth, &page); err != nil {
		return err
	}
	if page.NextCursor == nil {
		r.logf("the API gives no next_cursor: no keyset paging to measure")
		return nil
	}
	res, rss, err = r.load(ctx, big, r.listConns, "--url", fmt.Sprintf("http://%s%s&after=%s", big.addr, first, url.QueryEscape(*page.NextCursor)), "--header", auth)
	if err != nil {
		return err
	}
	r.add("3 GET /users?sort=created_at&limit=50", fmt.Sprintf("after=<cursor at row %d>, %d users, %d conns", deep, r.largeUsers, r.listConns), res, rss, "")
	r.ratio("list_deep_cursor_slowdown", firstRes[1].OKPerSec/res.OKPerSec, "~1 (flat)")
	return nil
}

// hashClients is how many client addresses the sign-up and login loads
// come from (through the loopback proxy the servers trust): the hashing
// slots are shared per address, and one address alone is held to
// password.max_concurrent - 1 of them, which would halve the rate on the
// default two slots and measure the fairness rule instead of the hashing.
const hashClients = 16

// hashing measures sign-up and login against the raw argon2id rate with
// the configured parameters, and both under overload. The raw rate is
// measured right before and right after each of the two loads it is
// compared with (the ratio takes the mean of the two), since
// the machine's other work drifts between phases; the CPU ratio (the
// hash's CPU beside the request's) does not drift with it.
func (r *runner) hashing(ctx context.Context, s *server) error {
	loginBody := `{"username":"user0000001","password":"` + benchPassword + `"}`
	for _, ep := range []struct{ name, path, body string }{
		{"signup", "/api/v1/account/signup", `{"username":"sign_{n}","password":"` + benchPassword + `"}`},
		{"login", "/api/v1/account/login", loginBody},
	} {
		rate0, cpu0, err := r.hashrate(ctx)
		if err != nil {
			return err
		}
		res, rss, err := r.load(ctx, s, r.hashConns, "--method", "POST", "--url", "http://"+s.addr+ep.path, "--header", jsonContentType, "--body", ep.body,
			"--clients", fmt.Sprint(hashClients))
		if err != nil {
			return err
		}
		rate1, cpu1, err := r.hashrate(ctx)
		if err != nil {
			return err
		}
		rate, cpu := (rate0+rate1)/2, (cpu0+cpu1)/2
		r.add("4 POST "+strings.TrimPrefix(ep.path, "/api/v1"), fmt.Sprintf("%d conns", r.hashConns), res, rss, "")
		r.ratio(ep.name+"_throughput_vs_hashrate", res.OKPerSec/rate, ">= 0.85")
		r.ratio(ep.name+"_hash_share_of_server_cpu", cpu/res.ServerCPUus, "report (1 = nothing but the hash)")
	}
	if r.profile {
		if err := r.loginProfile(ctx, r.smallDB, loginBody); err != nil {
			return err
		}
	}
	return r.hashingOverload(ctx, s, loginBody)
}

// jsonContentType is the header of the requests with a JSON body.
const jsonContentType = "Content-Type: application/json"

// hashrate runs the raw argon2id rate with the configured parameters in a
// process of its own and records it: hashes a second and CPU per hash.
func (r *runner) hashrate(ctx context.Context) (rate, cpu float64, err error) {
	pw := r.cfg.Password
	warmup, duration := r.warmup, r.duration
	if r.quick {
		// Four of these per run: keep QUICK short.
		warmup, duration = 300*time.Millisecond, 1500*time.Millisecond
	}
	cmd := exec.CommandContext(ctx, r.selfBin, "hashrate",
		"--time", fmt.Sprint(pw.Argon2Time), "--memory-kib", fmt.Sprint(pw.Argon2MemoryKB), "--threads", fmt.Sprint(pw.Argon2Threads),
		"--workers", fmt.Sprint(pw.MaxConcurrent), "--warmup", warmup.String(), "--duration", duration.String())
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("hashrate: %w", err)
	}
	var hr struct {
		Rate float64 `json:"hashes_per_sec"`
		CPU  float64 `json:"cpu_us_per_hash"`
	}
	if err := json.Unmarshal(out, &hr); err != nil {
		return 0, 0, err
	}
	params := fmt.Sprintf("t=%d m=%dKiB p=%d, %d at once", pw.Argon2Time, pw.Argon2MemoryKB, pw.Argon2Threads, pw.MaxConcurrent)
	r.add("4 raw argon2id", params, loadResult{OKPerSec: hr.Rate, ServerCPUus: hr.CPU}, 0, "golang.org/x/crypto/argon2.IDKey in a process of its own; CPU column: per hash")
	return hr.Rate, hr.CPU, nil
}

// hashingOverload loads sign-up and login with r.overConns connections
// against max_concurrent hashing slots. Latency must stay bounded (503 past
// max_wait, no queue), and the resident set under 96 MiB with the default
// settings: this is where the hashes' memory peaks.
func (r *runner) hashingOverload(ctx context.Context, s *server, loginBody string) error {
	maxWait := r.cfg.Password.MaxWait
	for _, ep := range []struct{ name, path, body string }{
		{"signup", "/api/v1/account/signup", `{"username":"over_{n}","password":"` + benchPassword + `"}`},
		{"login", "/api/v1/account/login", loginBody},
	} {
		over, rss, err := r.load(ctx, s, r.overConns, "--method", "POST", "--url", "http://"+s.addr+ep.path,
			"--header", jsonContentType, "--body", ep.body)
		if err != nil {
			return err
		}
		r.add("4 POST "+strings.TrimPrefix(ep.path, "/api/v1")+" overload", fmt.Sprintf("%d conns, max_wait %s", r.overConns, maxWait), over, rss, "503 past max_wait")
		r.ratio(ep.name+"_overload_p99_vs_max_wait", over.P99Ms/float64(maxWait.Milliseconds()), "bounded (about 1 + one hash)")
		r.ratio("rss_mib_"+ep.name+"_overload_vs_96mib", rss/96, "< 1")
	}
	// At 64 connections a waiting login may still find a slot within
	// max_wait, so the 503 path need not show. Past max_wait's worth of
	// queue (2.5 times the connections), it must: p99 stays near max_wait
	// plus one hash because the waiters past it are answered 503, not queued.
	past := r.overConns * 5 / 2
	res, rss, err := r.load(ctx, s, past, "--method", "POST", "--url", "http://"+s.addr+"/api/v1/account/login",
		"--header", jsonContentType, "--body", loginBody)
	if err != nil {
		return err
	}
	r.add("4 POST /account/login overload", fmt.Sprintf("%d conns, max_wait %s", past, maxWait), res, rss, "503 past max_wait")
	r.ratio("login_far_overload_p99_vs_max_wait", res.P99Ms/float64(maxWait.Milliseconds()), "bounded (about 1 + one hash)")
	var answered, unavailable int
	for code, n := range res.Codes {
		answered += n
		if code == "503" {
			unavailable += n
		}
	}
	r.ratio("login_far_overload_503_share", float64(unavailable)/float64(max(answered, 1)), "report (> 0: the hasher sheds load)")
	return nil
}

// migrations times `accounts migrate apply` of the whole directory on an
// empty database and `accounts migrate diff` with nothing to change, and
// how much of the diff is creating and dropping its throw-away database.
func (r *runner) migrations(ctx context.Context) error {
	dir := filepath.Join(r.work, "migrations")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sql") && path != "atlas.sum" {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644)
	})
	if err != nil {
		return err
	}
	wall := func(db string, args ...string) (float64, string, error) {
		cmd := exec.CommandContext(ctx, r.accountsBin, args...)
		cmd.Env = append(r.env(db), "ACCOUNTS_LOG_FORMAT=text")
		cmd.Dir = r.work
		start := time.Now()
		out, err := cmd.CombinedOutput()
		ms := float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			return 0, "", fmt.Errorf("accounts %v: %w: %s", args, err, out)
		}
		return ms, string(out), nil
	}
	apply := timing{name: "migrate apply (whole directory, empty database)"}
	diff := timing{name: "migrate diff, no change (throw-away dev database)"}
	diffDev := timing{name: "migrate diff, no change (--dev-url: an existing empty database)"}
	createDrop := timing{name: "CREATE DATABASE … TEMPLATE template0 + DROP DATABASE … WITH (FORCE)", note: "what the throw-away dev database costs, each on a connection of its own as the engine does"}
	floor := timing{name: "accounts config show", note: "process start and configuration: the floor of every command"}
	for i := range r.migrateReps {
		db, err := r.newDatabase(ctx, fmt.Sprintf("migrate%d", i), -1)
		if err != nil {
			return err
		}
		ms, _, err := wall(db, "migrate", "apply", "--dir", dir)
		if err != nil {
			return err
		}
		apply.ms = append(apply.ms, ms)
		ms, out, err := wall(db, "migrate", "diff", "bench_nochange", "--dir", dir)
		if err != nil {
			return err
		}
		if !strings.Contains(strings.ToLower(out), "no change") {
			return fmt.Errorf("migrate diff found changes on an unchanged schema: %s", out)
		}
		diff.ms = append(diff.ms, ms)
		dev, err := r.newDatabase(ctx, fmt.Sprintf("dev%d", i), -1)
		if err != nil {
			return err
		}
		ms, _, err = wall(db, "migrate", "diff", "bench_nochange", "--dir", dir, "--dev-url", r.dbURL(dev))
		if err != nil {
			return err
		}
		diffDev.ms = append(diffDev.ms, ms)
		ms, err = r.createDrop(ctx)
		if err != nil {
			return err
		}
		createDrop.ms = append(createDrop.ms, ms)
		ms, _, err = wall(db, "config", "show")
		if err != nil {
			return err
		}
		floor.ms = append(floor.ms, ms)
	}
	r.timings = append(r.timings, apply, diff, diffDev, createDrop, floor)
	r.ratio("migrate_diff_share_create_drop_dev_db", medianOf(createDrop.ms)/medianOf(diff.ms), "report")
	r.ratio("migrate_diff_share_vs_dev_url", (medianOf(diff.ms)-medianOf(diffDev.ms))/medianOf(diff.ms), "report")
	return nil
}

// createDrop times what the migration engine does for a throw-away dev
// database: connect, CREATE DATABASE from template0; connect, DROP it.
func (r *runner) createDrop(ctx context.Context) (float64, error) {
	name := r.prefix + "_createdrop"
	start := time.Now()
	for _, stmt := range []string{
		"CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE template0",
		"DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)",
	} {
		if err := r.exec(ctx, "postgres", stmt); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Microseconds()) / 1000, nil
}

func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loginProfile takes a CPU profile of `bench serve --impl ent` under the
// login load of measurement 4, and writes where the CPU goes beside the
// hash: the top of the profile by cumulative time, without the frames of
// argon2, to login.cpu.txt.
func (r *runner) loginProfile(ctx context.Context, db, body string) error {
	s, err := r.start(ctx, "bench serve --impl ent (login, profiled)", db, r.selfBin, "serve", "--impl", "ent", "--pprof-addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer s.stop()
	// A login is ~30 ms of CPU: profile for long enough to see what is
	// not the hash, even in a quick run.
	saved := r.duration
	r.duration = max(r.duration, 8*time.Second)
	defer func() { r.duration = saved }()
	done := make(chan error, 1)
	var res loadResult
	go func() {
		var err error
		res, _, err = r.load(ctx, s, r.hashConns, "--method", "POST", "--url", "http://"+s.addr+"/api/v1/account/login",
			"--header", jsonContentType, "--body", body, "--clients", fmt.Sprint(hashClients))
		done <- err
	}()
	time.Sleep(r.warmup + 200*time.Millisecond)
	profPath := filepath.Join(r.outDir, "login.cpu.pprof")
	perr := fetchProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprof, max(1, int(r.duration.Seconds())-1)), profPath)
	if err := <-done; err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	r.add("4 where a login's CPU goes", fmt.Sprintf("bench serve --impl ent, profiled, %d conns", r.hashConns), res, 0, "profile: "+profPath)
	var summary bytes.Buffer
	for _, mode := range [][]string{{"-top", "-nodecount=30"}, {"-top", "-cum", "-nodecount=60", "-hide=argon2|blake2b"}} {
		out, err := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, mode...), r.selfBin, profPath)...).CombinedOutput()
		if err != nil {
			r.logf("go tool pprof: %v: %s", err, out)
			return nil
		}
		summary.Write(out)
		summary.WriteString("\n")
	}
	_ = os.WriteFile(filepath.Join(r.outDir, "login.cpu.txt"), summary.Bytes(), 0o644)
	fmt.Fprintln(os.Stderr, summary.String())
	return nil
}
