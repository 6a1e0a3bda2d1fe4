package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a server process the benchmark started: `accounts serve` or
// `bench serve`.
type server struct {
	name  string
	cmd   *exec.Cmd
	addr  string        // host:port of the API
	pprof string        // host:port of pprof, when asked for
	done  chan struct{} // closed when the process has exited
	err   error         // its exit status, once done is closed
}

// startServer starts bin with args and env, and waits until it logs
// {"msg":"listening"} on stderr and answers /livez. The rest of its stderr
// is drained; start-up lines, warnings and errors are kept in logPath.
func startServer(ctx context.Context, name, logPath string, env []string, bin string, args ...string) (*server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", name, err), logFile.Close())
	}
	s := &server{name: name, cmd: cmd, done: make(chan struct{})}
	found := make(chan struct{})
	go func() {
		// The log is a copy for a reader after the run: a failed close
		// shows there as a short log, nothing the run could act on.
		defer func() { _ = logFile.Close() }()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Bytes()
			if signalled {
				// Past start-up only warnings and errors are kept: the
				// one line per request would fill the disk.
				if bytes.Contains(line, []byte(`"level":"WARN"`)) || bytes.Contains(line, []byte(`"level":"ERROR"`)) {
					_, _ = logFile.Write(append(line, '\n'))
				}
				continue
			}
			_, _ = logFile.Write(append(line, '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil {
				switch rec.Msg {
				case "pprof":
					s.pprof = rec.Addr
				case "listening":
					s.addr = rec.Addr
					signalled = true
					close(found)
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	select {
	case <-found:
	case <-s.done:
		return nil, fmt.Errorf("%s exited before listening (%v); see %s", name, s.err, logPath)
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not listen within 60s; see %s", name, logPath)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + s.addr + "/livez")
		if err == nil {
			_ = resp.Body.Close() // only the status matters
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if i > 100 {
			s.stop()
			return nil, fmt.Errorf("%s does not answer /livez", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server with SIGTERM (it drains and exits), SIGKILL after
// 10s. Stopping a stopped server does nothing.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// resetPeakRSS resets the process's VmHWM (Linux: writing 5 to clear_refs),
// so the next peakRSS reads the peak of the load that follows. It reports
// whether the kernel allowed it.
func (s *server) resetPeakRSS() bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0) == nil
}

// peakRSS is the process's VmHWM in MiB.
func (s *server) peakRSS() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// clockTicks is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on Linux everywhere but very old Alpha ports).
const clockTicks = 100

// cpuSeconds is the CPU time (user and system) the process and every
// process under it (the workers of a peer stack) have used.
func (s *server) cpuSeconds() float64 {
	return treeCPUSeconds(s.cmd.Process.Pid)
}

// treeCPUSeconds is the CPU time of process pid and its descendants, as
// they are now: a child that has exited counts no more. The children are
// found by their parent ids in /proc, which every kernel has (the
// children files need CONFIG_PROC_CHILDREN).
func treeCPUSeconds(pid int) float64 {
	children := map[int][]int{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		child, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if f := statFields(child); len(f) > 1 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], child)
		}
	}
	total := 0.0
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		total += processCPUSeconds(queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return total
}

// statFields are the fields of /proc/PID/stat after the command name (the
// state first), nil when there is no such process.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// The command name, in parentheses, may hold spaces: count the fields
	// after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// processCPUSeconds is the CPU time (user and system) of process pid:
// utime and stime, fields 14 and 15 of its stat.
func processCPUSeconds(pid int) float64 {
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}
