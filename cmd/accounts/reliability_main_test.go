package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"accounts/internal/devinfra/pgcluster"
	"accounts/internal/syncbuf"
)

// This file holds what the reliability tests (reliability_*_test.go) share
// with the end-to-end harness: TestMain, the suite-wide secrets check, the
// built binary for tests that need separate processes, and private
// PostgreSQL clusters for tests that stop their database.

func TestMain(m *testing.M) {
	code := m.Run()
	if !checkSuiteSecrets() && code == 0 {
		code = 1
	}
	stopPgBouncer()
	removeBinary()
	os.Exit(code)
}

// suiteTexts holds, for the whole run of the package, every server log,
// every recorded response and the output of every process a test started;
// suiteSecrets holds every secret any test handed out. checkSuiteSecrets
// looks for each secret in each text once all tests are done, so a secret
// of one test that shows up in another test's output is caught too, and
// every new test that uses the harness is covered without doing anything.
var (
	suiteTexts   textSet
	suiteSecrets secretSet
)

type textSet struct {
	mu    sync.Mutex
	names []string
	texts []func() string
}

func (s *textSet) add(name string, text func() string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, name)
	s.texts = append(s.texts, text)
}

type secretSet struct {
	mu     sync.Mutex
	byText map[string]string // secret -> the test that made it
}

func (s *secretSet) add(test, secret string) {
	// Shorter strings are no credential (the service refuses passwords
	// under 8 characters) and would match ordinary words: a test's
	// rejected password "short" is in "try again shortly".
	if len(secret) < 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byText == nil {
		s.byText = map[string]string{}
	}
	if _, ok := s.byText[secret]; !ok {
		s.byText[secret] = test
	}
}

// addToken registers a session token and the forms its stored hash could
// take in a log (hex, base64, PostgreSQL's bytea text) as secrets.
func (s *server) addToken(token string) {
	s.addSecret(token)
	h := sha256.Sum256([]byte(token))
	for _, form := range []string{hex.EncodeToString(h[:]), base64.StdEncoding.EncodeToString(h[:]), base64.RawURLEncoding.EncodeToString(h[:])} {
		s.addSecret(form)
	}
}

// hashMarkers are strings that only a password hash, or a struct holding
// one, would put in a log line or a response.
var hashMarkers = []string{"$argon2id$", `"password_hash"`, "PasswordHash"}

// checkSuiteSecrets reports every secret found in any text of the run, and
// any password hash; it returns false when it found one.
func checkSuiteSecrets() bool {
	suiteTexts.mu.Lock()
	names, getters := slices.Clone(suiteTexts.names), slices.Clone(suiteTexts.texts)
	suiteTexts.mu.Unlock()
	suiteSecrets.mu.Lock()
	secrets := make(map[string]string, len(suiteSecrets.byText))
	for k, v := range suiteSecrets.byText {
		secrets[k] = v
	}
	suiteSecrets.mu.Unlock()
	if len(getters) == 0 {
		return true
	}
	texts := make([]string, len(getters))
	size := 0
	for i, get := range getters {
		texts[i] = get()
		size += len(texts[i])
	}
	leaks := findLeaks(names, texts, secrets)
	for _, l := range leaks {
		fmt.Fprintln(os.Stderr, "secrets check:", l)
	}
	ok := len(leaks) == 0
	if testing.Verbose() || !ok {
		fmt.Fprintf(os.Stderr, "secrets check: %d secrets against %d logs, outputs and response records (%.1f MiB): %s\n",
			len(secrets), len(getters), float64(size)/(1<<20), map[bool]string{true: "none leaked", false: "LEAKS FOUND"}[ok])
	}
	return ok
}

// findLeaks returns one line for each secret (secret -> the test that made
// it) or password-hash marker found in a text.
func findLeaks(names, texts []string, secrets map[string]string) []string {
	var leaks []string
	for i, text := range texts {
		for sec, owner := range secrets {
			if j := strings.Index(text, sec); j >= 0 {
				leaks = append(leaks, fmt.Sprintf("%s contains a secret of %s: …%s…", names[i], owner, excerpt(text, j, len(sec))))
			}
		}
		for _, m := range hashMarkers {
			if j := strings.Index(text, m); j >= 0 {
				leaks = append(leaks, fmt.Sprintf("%s contains %q: …%s…", names[i], m, excerpt(text, j, len(m))))
			}
		}
	}
	return leaks
}

// TestSecretsCheckFindsLeaks proves the suite-wide check has teeth: a
// password, a token's hash, a pepper and an argon2 hash are each found in
// another test's text, and ordinary text passes.
func TestSecretsCheckFindsLeaks(t *testing.T) {
	t.Parallel()
	var set secretSet
	set.add("TestA", "pw-0123456789")
	set.add("TestA", "short") // under 8 characters: no credential, ignored
	h := sha256.Sum256([]byte("tok-" + randomHex(16)))
	set.add("TestB", hex.EncodeToString(h[:]))
	set.add("TestB", "pepper-abcdef0123")
	texts := []string{
		`{"msg":"login","password":"pw-0123456789"}`,
		`{"msg":"query","args":["` + hex.EncodeToString(h[:]) + `"]}`,
		`pepper-abcdef0123`,
		`{"hash":"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA"}`,
		`{"msg":"try again shortly"}`,
	}
	names := []string{"log 1", "log 2", "log 3", "log 4", "clean"}
	leaks := findLeaks(names, texts, set.byText)
	if len(leaks) != 4 {
		t.Fatalf("found %d leaks, want 4 (password, token hash, pepper, argon2 hash):\n%s", len(leaks), strings.Join(leaks, "\n"))
	}
	for i, l := range leaks {
		if !strings.HasPrefix(l, names[i]+" ") {
			t.Errorf("leak %d is in %q, want %q", i, l, names[i])
		}
	}
}

func excerpt(text string, at, n int) string {
	return text[max(0, at-200):min(len(text), at+n+60)]
}

// The binary, built once per run of the package for the tests that need
// the program as a separate OS process (kill -9, several replicas, exit
// status).
var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

// accountsBinary returns the path of the accounts binary built from this
// package.
func accountsBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		binaryDir, binaryErr = os.MkdirTemp("", "accounts-bin-")
		if binaryErr != nil {
			return
		}
		// Other users (the postgres account, when tests run as root) never
		// need to run it, but they must not be refused a look either.
		_ = os.Chmod(binaryDir, 0o755)
		// go test puts its own GOROOT/bin first on the PATH of the tests.
		goTool, err := exec.LookPath("go")
		if err != nil {
			binaryErr = fmt.Errorf("find the go command to build the binary: %w", err)
			return
		}
		binaryPath = filepath.Join(binaryDir, "accounts")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goTool, "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

func removeBinary() {
	if binaryDir != "" {
		_ = os.RemoveAll(binaryDir)
	}
}

// proc is the binary running as a separate process.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncbuf.Buffer
	stderr *syncbuf.Buffer
	done   chan struct{}
	err    error // valid once done is closed
}

// procEnv is the environment of an `accounts serve` a test runs as a
// process of its own on dbURL, peppered with pepper (which the caller
// registers with the suite's secrets check): cheap hashing and a small
// pool, so that several fit on a 2-core box. extra adds to or overrides it.
func procEnv(dbURL, pepper string, extra map[string]string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":                        dbURL,
		"ACCOUNTS_LOG_FORMAT":                 "json",
		"ACCOUNTS_PASSWORD_PEPPER":            pepper,
		"ACCOUNTS_PASSWORD_ARGON2_TIME":       "1",
		"ACCOUNTS_PASSWORD_ARGON2_MEMORY_KIB": "64",
		"ACCOUNTS_DATABASE_POOL_SIZE":         "1",
		"ACCOUNTS_DATABASE_MAX_OVERFLOW":      "4",
	}
	maps.Copy(env, extra)
	return env
}

// startProc runs the binary with args and only env in its environment
// (plus PATH and HOME), so the developer's own ACCOUNTS_* or DATABASE_URL
// cannot leak in. Its output joins the suite's secrets check; it is
// killed, if still running, when the test ends.
func startProc(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command(accountsBinary(t), args...), env, args...)
}

// startCmd is startProc with the command given: the binary run through
// a shell that first lowers a limit, for one.
func startCmd(t *testing.T, cmd *exec.Cmd, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if _, ok := env["ACCOUNTS_METRICS_ADDR"]; !ok {
		// Processes run in parallel cannot all have the default port.
		cmd.Env = append(cmd.Env, "ACCOUNTS_METRICS_ADDR=127.0.0.1:0")
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	name := t.Name() + " `accounts " + strings.Join(args, " ") + "`"
	suiteTexts.add(name+" stdout", p.stdout.String)
	suiteTexts.add(name+" stderr", p.stderr.String)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits up to timeout for the process to exit and returns its exit
// status, or fails the test.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still running after %s\nstderr:\n%s", p.cmd, timeout, p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", p.cmd, p.err)
	return -1
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// reachableTempDir is a pgcluster.ThrowawayParent, removed when the
// test ends: as root the cluster runs as postgres, which cannot enter a
// t.TempDir (0700).
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := pgcluster.ThrowawayParent()
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// startPrivateCluster starts a PostgreSQL cluster of the test's own from
// the installed server binaries, for tests that stop or restart their
// database (never the machine's shared server). It is stopped when the
// test ends. Without server binaries the test fails in CI and is skipped
// elsewhere. settings replace the default server settings.
func startPrivateCluster(t *testing.T, settings ...map[string]string) *pgcluster.Cluster {
	t.Helper()
	o := pgcluster.Options{
		DataDir:  filepath.Join(reachableTempDir(t), "postgres"),
		NoSync:   true,
		Settings: map[string]string{"max_connections": "60"},
	}
	for _, s := range settings {
		o.Settings = s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, o)
	var nf *pgcluster.BinariesNotFoundError
	switch {
	case errors.As(err, &nf) && os.Getenv("CI") == "":
		t.Skipf("no PostgreSQL server binaries for a private cluster: %v", err)
	case err != nil:
		t.Fatalf("private cluster: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("stop the private cluster: %v", err)
		}
	})
	return c
}

// restartCluster starts a stopped private cluster again on the same port.
func restartCluster(t *testing.T, c *pgcluster.Cluster) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	again, err := pgcluster.Start(ctx, pgcluster.Options{
		DataDir:  c.DataDir(),
		Port:     c.Port(),
		NoSync:   true,
		Settings: map[string]string{"max_connections": "60"},
	})
	if err != nil {
		t.Fatalf("restart the private cluster: %v", err)
	}
	return again
}
