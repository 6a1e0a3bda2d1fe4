package main

import (
	"bytes"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"accounts/internal/syncbuf"
	"accounts/internal/testdb"
)

// quickStartBlocks returns the sh blocks of the README's quick start, in
// order.
func quickStartBlocks(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "<!-- quick-start")
	end := strings.Index(readme, "<!-- /quick-start -->")
	if start < 0 || end < start {
		t.Fatal("README has no quick-start section")
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(readme[start:end], -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) != 2 {
		t.Fatalf("the quick start has %d sh blocks, want 2 (the server, then the second terminal)", len(blocks))
	}
	return blocks
}

// TestReadmeQuickStart runs the README's quick start as written, in a
// scratch database: the first block (make run) in the background, the
// second (make build, the first super admin, logging in with curl) in
// bash, with only the address changed to a free port. The password is
// given as a script would give it (no terminal here), and typed to the
// script's `read`. It then checks the super admin exists and /docs
// answers, as the README says.
func TestReadmeQuickStart(t *testing.T) {
	directOnly(t)
	t.Parallel()
	for _, tool := range []string{"make", "curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	blocks := quickStartBlocks(t)
	if strings.TrimSpace(blocks[0]) != "make run" {
		t.Fatalf("the first block is %q, want make run", blocks[0])
	}
	server, err := url.Parse(testdb.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	name := "accounts_quickstart_" + randomHex(4)
	target := *server
	target.Path = "/" + name
	t.Cleanup(func() { dropDatabase(t, server.String(), name) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	env := append(os.Environ(), "DATABASE_URL="+target.String(), "ACCOUNTS_METRICS_ADDR=127.0.0.1:0",
		"ACCOUNTS_LOG_FORMAT=json", "ACCOUNTS_DEV_DATA_DIR="+reachableTempDir(t))

	out := &syncbuf.Buffer{}
	srv := exec.Command("bash", "-c", strings.TrimSpace(blocks[0])+" ADDR="+addr)
	srv.Dir, srv.Env, srv.Stdout, srv.Stderr = "../..", env, out, out
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGINT)
		if err := <-exited; err != nil {
			// make ends by the SIGINT it was sent; only the log is told.
			t.Logf("make run after SIGINT: %v", err)
		}
	})
	waitMakeRun(t, srv, out, `"msg":"listening","addr":"`+addr, exited)

	script := strings.ReplaceAll(blocks[1], "127.0.0.1:8080", addr)
	if script == blocks[1] {
		t.Fatal("the second block does not use 127.0.0.1:8080")
	}
	var cliOut bytes.Buffer
	cli := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cli.Dir = "../.."
	cli.Env = append(env, superAdminPasswordEnv+"=quick-start-pw-1")
	cli.Stdin = strings.NewReader("quick-start-pw-1\n")
	cli.Stdout, cli.Stderr = &cliOut, &cliOut
	if err := cli.Run(); err != nil {
		t.Fatalf("the quick start's second block failed: %v\n%s\nserver:\n%s", err, cliOut.String(), out.String())
	}
	if !strings.Contains(cliOut.String(), "created super admin admin") || !strings.Contains(cliOut.String(), `"role":"super_admin"`) {
		t.Errorf("the quick start did not end with the super admin logged in:\n%s", cliOut.String())
	}
	resp, err := http.Get("http://" + addr + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/docs = %d, want 200", resp.StatusCode)
	}
}
