package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"accounts/internal/config"
	"accounts/internal/syncbuf"
	"accounts/internal/testdb"
	"accounts/migrations"
)

// TestPermanentConnectionErrorsFailAtOnce runs serve, wait-db and
// create-superadmin against a database that does not exist and a role
// that does not exist: neither will ever answer, so each command must fail
// at once, saying what to do, instead of retrying until wait_timeout.
func TestPermanentConnectionErrorsFailAtOnce(t *testing.T) {
	directOnly(t)
	t.Parallel()
	server, noDB, noRole := missingDatabaseAndRole(t)
	cases := []struct {
		url  string
		want []string
	}{
		{noDB.String(), []string{"does not exist", "createdb -h " + server.Hostname() + " -p " + server.Port() + " " + strings.TrimPrefix(noDB.Path, "/"), "database.name"}},
		{noRole.String(), []string{"no_such_role_", "database.user"}},
	}
	for _, c := range cases {
		for _, args := range [][]string{{"wait-db"}, {"serve", "--addr", "127.0.0.1:0"}, {"users", "create-superadmin", "--username", "rootadmin"}} {
			env := map[string]string{
				"DATABASE_URL":                      c.url,
				"ACCOUNTS_DATABASE_WAIT_TIMEOUT":    "8s",
				"ACCOUNTS_DATABASE_WAIT_INTERVAL":   "100ms",
				"ACCOUNTS_SUPERADMIN_PASSWORD":      "root-password-1",
				"ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB": "0",
				"ACCOUNTS_LOG_FORMAT":               "json",
			}
			start := time.Now()
			_, _, err := runCapture(env, args...)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("%v on %s succeeded", args, c.url)
			}
			if took > 5*time.Second {
				t.Errorf("%v on %s took %s: a permanent error must not be retried", args, c.url, took)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v on %s: %v\nlacks %q", args, c.url, err, w)
				}
			}
		}
	}
}

// TestVersion checks `accounts version` and `accounts --version`: the
// version, the commit, the Go version and the migration head of the
// build, without a database or a valid configuration.
func TestVersion(t *testing.T) {
	t.Parallel()
	files, err := migrations.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var head string
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".sql") {
			head = strings.TrimSuffix(f.Name(), ".sql")
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := runCapture(map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/x"}, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, want := range []string{"accounts " + version, "commit: ", "go: " + runtime.Version(), "migrations: " + strings.SplitN(head, "_", 2)[0]} {
			if !strings.Contains(out, want) {
				t.Errorf("%v prints\n%s\nwithout %q", args, out, want)
			}
		}
	}
}

// TestBuildInfoMetric checks that a server reports what it runs.
func TestBuildInfoMetric(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b, _ := buildInfo()
	want := fmt.Sprintf(`accounts_build_info{commit=%q,goversion=%q,version=%q} 1`, b.Commit, runtime.Version(), version)
	if body := string(s.getMetrics().body); !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// TestUnknownVariableStopsCommands runs a command with a misspelled
// variable in the process's environment: it must stop, naming the key
// that was probably meant. (Not parallel: it sets the environment.)
func TestUnknownVariableStopsCommands(t *testing.T) {
	t.Setenv("ACCOUNTS_DATABASE_POOLSIZE", "3")
	t.Setenv(superAdminPasswordEnv, "read by create-superadmin, not a typo")
	// The harness's own variable, set in the run through PgBouncer, is
	// not the program's environment.
	getenv := func(k string) string {
		if k == viaPgBouncerEnv {
			return ""
		}
		return os.Getenv(k)
	}
	err := run(context.Background(), []string{"accounts", "config", "show"}, getenv, time.Now, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ACCOUNTS_DATABASE_POOLSIZE: no configuration key reads it (did you mean ACCOUNTS_DATABASE_POOL_SIZE?)") {
		t.Errorf("err = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), superAdminPasswordEnv) {
		t.Errorf("%s is read by a command: %v", superAdminPasswordEnv, err)
	}
	var out bytes.Buffer
	t.Setenv("ACCOUNTS_DATABASE_POOLSIZE", "")
	t.Setenv("ACCOUNTS_HTTP_ADDR", "127.0.0.1:18181")
	if err := run(context.Background(), []string{"accounts", "config", "show", "--format", "yaml"}, getenv, time.Now, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "http:\n  addr: \"127.0.0.1:18181\"  # environment variable ACCOUNTS_HTTP_ADDR\n") {
		t.Errorf("config show --format yaml:\n%s", out.String())
	}
}

// TestProbesAnswerHeadAndHealthcheckTakesABaseURL checks the probes as a
// load balancer and an operator call them: HEAD /livez and /readyz, and
// `healthcheck --url` with the server's base URL.
func TestProbesAnswerHeadAndHealthcheckTakesABaseURL(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, path := range []string{"/livez", "/readyz"} {
		resp, err := http.Head(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s = %d, want 200", path, resp.StatusCode)
		}
	}
	for _, u := range []string{s.base, s.base + "/", s.base + "/readyz"} {
		out, _, err := runCapture(nil, "healthcheck", "--url", u)
		if err != nil || !strings.Contains(out, "/readyz answered 200") {
			t.Errorf("healthcheck --url %s: %v %s", u, err, out)
		}
	}
	if _, _, err := runCapture(nil, "healthcheck", "--url", s.base+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("healthcheck --url on a path that does not exist: %v", err)
	}
}

// TestJSONLogDurations checks that a duration in a JSON log line is a
// number of seconds, as Prometheus and most log pipelines expect, not
// Go's nanosecond integer; text lines keep Go's "1.5s".
func TestJSONLogDurations(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	newLogger(config.Log{Level: "info", Format: "json"}, &buf).Info("x", "took", 1500*time.Millisecond, "timeout", 15*time.Second)
	if !strings.Contains(buf.String(), `"took":1.5,"timeout":15}`) {
		t.Errorf("JSON line %s, want durations in seconds", buf.String())
	}
	buf.Reset()
	newLogger(config.Log{Level: "info", Format: "text"}, &buf).Info("x", "took", 1500*time.Millisecond)
	if !strings.Contains(buf.String(), "took=1.5s") {
		t.Errorf("text line %s", buf.String())
	}
}

// TestDevListensOnLoopbackByDefault checks dev's defaults: loopback
// unless http.addr is set, docs on unless http.docs is set.
func TestDevListensOnLoopbackByDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "127.0.0.1:8080"},
		{map[string]string{"ACCOUNTS_HTTP_ADDR": ":8080"}, ":8080"},
	} {
		cfg, err := config.Load(config.Sources{Getenv: func(k string) string { return c.env[k] }})
		if err != nil {
			t.Fatal(err)
		}
		devDefaults(cfg)
		if cfg.HTTP.Addr != c.want || !cfg.HTTP.Docs || !cfg.Migrate.OnStart {
			t.Errorf("%v: dev listens on %q (docs %v, migrate %v), want %q", c.env, cfg.HTTP.Addr, cfg.HTTP.Docs, cfg.Migrate.OnStart, c.want)
		}
	}
}

// TestMakeRunExitsZeroOnInterrupt runs `make run` as a terminal would, in
// a process group of its own, and sends the group SIGINT as Ctrl-C does:
// the server stops cleanly and its recipe exits 0, so make reports no
// "Error 1". GNU make itself always ends by the SIGINT it got (it
// re-raises it after reaping its children; status 130 in a shell, which
// prints nothing for it), so that is accepted as well as 0.
func TestMakeRunExitsZeroOnInterrupt(t *testing.T) {
	directOnly(t)
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	server, err := url.Parse(testdb.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	name := "accounts_makerun_" + randomHex(4)
	target := *server
	target.Path = "/" + name
	t.Cleanup(func() { dropDatabase(t, server.String(), name) })
	out := &syncbuf.Buffer{}
	cmd := exec.Command("make", "-s", "run", "ADDR=127.0.0.1:0")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "DATABASE_URL="+target.String(), "ACCOUNTS_METRICS_ADDR=127.0.0.1:0",
		"ACCOUNTS_LOG_FORMAT=json", "ACCOUNTS_DEV_DATA_DIR="+reachableTempDir(t))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitMakeRun(t, cmd, out, `"msg":"listening"`, exited)
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = <-exited
	var exit *exec.ExitError
	interrupted := errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT
	if err != nil && !interrupted {
		t.Fatalf("make run after Ctrl-C: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "make: ***") {
		t.Errorf("make reports an error after Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"msg":"stopped"`) {
		t.Errorf("the server did not stop cleanly:\n%s", out.String())
	}
}

// waitMakeRun waits up to 3 minutes (make run builds first) for out to
// hold want. When make run ends before, the test fails at once with its
// output, which says why (a port in use, say), instead of waiting.
func waitMakeRun(t *testing.T, cmd *exec.Cmd, out *syncbuf.Buffer, want string, exited chan error) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); !strings.Contains(out.String(), want); {
		select {
		case err := <-exited:
			exited <- err // for the cleanup that waits for it
			t.Fatalf("make run ended before it listened: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("make run did not log %s within 3 minutes:\n%s", want, out.String())
		}
	}
}

// TestMakeRunBuildsWithMakeBuild (issue 30, finding 6): make run serves
// the binary make build builds, stamped the same way, so that after make
// run `bin/accounts version` names the version and commit, not dev and
// unknown.
func TestMakeRunBuildsWithMakeBuild(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dryRun := func(target string) string {
		cmd := exec.Command("make", "--no-print-directory", "-n", target, "VERSION=v-test", "COMMIT=c-test")
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", target, err, out)
		}
		return string(out)
	}
	build, run := dryRun("build"), dryRun("run")
	var builds []string
	for _, line := range strings.Split(run, "\n") {
		if strings.Contains(line, "go build") {
			builds = append(builds, line)
		}
	}
	want := strings.TrimSpace(build)
	if len(builds) != 1 || strings.TrimSpace(builds[0]) != want || !strings.Contains(want, "main.version=v-test") {
		t.Fatalf("make run builds with %q, want make build's %q", builds, want)
	}
}

// dropDatabase drops the database name on the server at serverURL, and
// the roles dev creates for a database it creates (NAME_owner and
// NAME_runtime).
func dropDatabase(t *testing.T, serverURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	roles := pgx.Identifier{name + "_owner"}.Sanitize() + ", " + pgx.Identifier{name + "_runtime"}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+roles); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// TestAdviceNamesTheCLIAsInvoked checks that the commands the tool
// advises name it the way the user started it.
func TestAdviceNamesTheCLIAsInvoked(t *testing.T) {
	t.Parallel()
	file := t.TempDir() + "/accounts.yaml"
	if err := os.WriteFile(file, []byte("database:\n  poolsize: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for arg0, want := range map[string]string{
		"accounts":                            "see `accounts config show`",
		"bin/accounts":                        "see `bin/accounts config show`",
		"/tmp/go-build1234/b001/exe/accounts": "see `go run ./cmd/accounts config show`",
	} {
		err := run(context.Background(), []string{arg0, "--config", file, "config", "show"}, func(string) string { return "" }, time.Now, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("started as %s: %v, want %q", arg0, err, want)
		}
	}
}

// missingDatabaseAndRole returns the test server's URL, and the same URL
// naming a database, then a role, that do not exist.
func missingDatabaseAndRole(t *testing.T) (server *url.URL, noDB, noRole url.URL) {
	t.Helper()
	server, err := url.Parse(testdb.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	noDB, noRole = *server, *server
	noDB.Path = "/no_such_db_" + randomHex(4)
	noRole.User = url.User("no_such_role_" + randomHex(4))
	return server, noDB, noRole
}
