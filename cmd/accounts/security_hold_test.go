package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"accounts/internal/testdb"
)

// rssMiB is the resident set size of process pid, in MiB, from
// /proc/PID/status.
func rssMiB(t *testing.T, pid int) float64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return float64(kib) / 1024
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// startAttacked starts `accounts serve` as a process of its own, through
// a shell that sets its open-file limit to files, with the test's cheap
// hashing and env on top; it returns the process, its address and the
// whole environment it was given.
func startAttacked(t *testing.T, files int, env map[string]string) (*proc, string, map[string]string) {
	t.Helper()
	pepper := "pepper-" + randomHex(16)
	suiteSecrets.add(t.Name(), pepper)
	all := procEnv(testdb.URL(t), pepper, env)
	cmd := exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, files), accountsBinary(t), "serve", "--addr", "127.0.0.1:0")
	p := startCmd(t, cmd, all, "serve")
	return p, waitListening(t, p), all
}

// holdBody opens a connection from the loopback address from, sends the
// headers of a login with a body of size bytes and all of the body but its
// last byte, and keeps the connection open until the test ends. The
// server may stop reading at any point; the write gives up after the
// deadline.
func holdBody(t *testing.T, addr, from string, size int, body []byte, deadline time.Time) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetWriteDeadline(deadline)
	_, _ = fmt.Fprintf(c, "POST /api/v1/account/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", size)
	_, _ = c.Write(body[:size-1])
}

// TestHeldBodiesDoNotHoldMemory (issue 29, finding 4): 4 addresses × 64
// connections, each sending all but the last byte of a 1 MiB body and
// holding, leave serve's RSS under 128 MiB (it went 93 → 343 → 597 MB):
// bodies in flight share one byte budget, http.body_budget_bytes.
func TestHeldBodiesDoNotHoldMemory(t *testing.T) {
	directOnly(t)
	t.Parallel()
	p, addr, _ := startAttacked(t, 1024, nil)
	pid := p.cmd.Process.Pid
	if r, err := http.Get("http://" + addr + "/livez"); err == nil {
		_ = r.Body.Close()
	}
	before := rssMiB(t, pid)

	const size = 1 << 20
	body := bytes.Repeat([]byte("a"), size)
	copy(body, `{"username":"`)
	var wg sync.WaitGroup
	deadline := time.Now().Add(15 * time.Second)
	for a := range 4 {
		for range 64 {
			wg.Go(func() { holdBody(t, addr, fmt.Sprintf("127.0.0.%d", 20+a), size, body, deadline) })
		}
	}
	// Sample while the bodies arrive and are held.
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := uint64(rssMiB(t, pid) * 1024); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	wg.Wait()
	time.Sleep(2 * time.Second)
	close(stop)
	<-sampled
	peakMiB := float64(peak.Load()) / 1024
	t.Logf("serve's RSS: %.1f MiB before, peak %.1f MiB with 256 bodies of 1 MiB held", before, peakMiB)

	// A fresh login is still answered (not 5xx, not refused).
	fresh := &http.Client{Timeout: 10 * time.Second}
	resp, err := fresh.Post("http://"+addr+"/api/v1/account/login", "application/json",
		strings.NewReader(`{"username":"nobody1","password":"nobody-password"}`))
	if err != nil {
		t.Errorf("a fresh login while bodies are held: %v", err)
	} else {
		_ = resp.Body.Close()
		t.Logf("a fresh login while bodies are held: %d", resp.StatusCode)
	}
	if peakMiB >= 128 {
		t.Fatalf("serve's RSS peaked at %.1f MiB with bodies held, want under 128", peakMiB)
	}
}

// slowBody opens a connection from from, sends the headers of a login
// with a 1 KiB body and then one byte every 2 s, until the server closes
// it or stop closes; then it starts again, as an attacker would.
func slowBody(addr, from string, stop <-chan struct{}) {
	for {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				continue
			}
		}
		_, err = fmt.Fprintf(c, "POST /api/v1/account/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n")
		for err == nil {
			select {
			case <-stop:
				_ = c.Close()
				return
			case <-time.After(2 * time.Second):
			}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, err = c.Write([]byte("a"))
			if err == nil {
				// A write succeeds on a connection the server closed until
				// the peer's reset arrives; a read tells at once.
				_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
				if _, rerr := c.Read(make([]byte, 1)); rerr != nil && !isTimeout(rerr) {
					err = rerr
				}
			}
		}
		_ = c.Close()
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestSlowBodiesLeaveRoomForFreshClients (issue 29, finding 5): 8
// addresses × 64 connections sending a body at one byte every 2 s, and
// reconnecting when cut, against a serve with the default connection
// budget (512, 64 an address) under an open-file limit of 1024, leave
// 24 of 24 fresh GET /livez served.
func TestSlowBodiesLeaveRoomForFreshClients(t *testing.T) {
	directOnly(t)
	t.Parallel()
	p, addr, _ := startAttacked(t, 1024, map[string]string{
		// Short enough that the test sees slow bodies cut, and the
		// attackers come back, within its run.
		"ACCOUNTS_HTTP_BODY_READ_TIMEOUT": "3s",
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for a := range 8 {
		for range 64 {
			wg.Go(func() { slowBody(addr, fmt.Sprintf("127.0.0.%d", 30+a), stop) })
		}
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	time.Sleep(3 * time.Second)
	served := 0
	for i := range 24 {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			var resp *http.Response
			if err == nil {
				resp, err = http.ReadResponse(bufio.NewReader(c), nil)
			}
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					served++
				}
			}
			_ = c.Close()
		}
		if err != nil {
			t.Logf("fresh GET /livez %d: %v", i, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d of 24 fresh GET /livez served with 8 × 64 slow bodies", served)
	if served != 24 {
		t.Fatalf("%d of 24 fresh GET /livez served with 8 × 64 slow bodies, want 24\n%s", served, tail(p.stderr.String(), 2048))
	}
}
