package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: what the test writes on master
// the command reads on the terminal tty, as if typed.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// typist reads what the terminal shows and types each answer once the
// terminal has echo off (so that a typed password would show if the
// command had left echo on, and it does not race the prompt).
type typist struct {
	mu    sync.Mutex
	shown bytes.Buffer
}

func (ty *typist) type_(t *testing.T, master, tty *os.File, answers ...string) {
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			ty.mu.Lock()
			ty.shown.Write(buf[:n])
			ty.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		for i, answer := range answers {
			want := 1 + i
			// Past the deadline it types anyway, as a person would at a
			// command that shows no prompt.
			for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				ty.mu.Lock()
				prompts := strings.Count(ty.shown.String(), "Password")
				ty.mu.Unlock()
				tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
				if err == nil && prompts >= want && tio.Lflag&unix.ECHO == 0 {
					break
				}
				if time.Now().After(deadline) {
					break
				}
			}
			_, _ = master.Write([]byte(answer + "\n"))
		}
	}()
}

func (ty *typist) screen() string {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	return ty.shown.String()
}

// runOnTerminal runs the program with tty as its standard input.
func runOnTerminal(env map[string]string, tty *os.File, args ...string) (string, error) {
	var out bytes.Buffer
	a := &app{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &out}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(tty)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestCreateSuperAdminPromptsOnATerminal: on a terminal the password is
// asked for twice with echo off, and two different answers create nothing.
func TestCreateSuperAdminPromptsOnATerminal(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	s.addSecret("tty-password-1")

	master, tty := openPTY(t)
	ty := &typist{}
	ty.type_(t, master, tty, "tty-password-1", "tty-password-1")
	out, err := runOnTerminal(env, tty, "users", "create-superadmin", "--username", "ttyroot")
	if err != nil || !strings.Contains(out, "created super admin ttyroot") {
		t.Fatalf("on a terminal: %v\n%s\nterminal:\n%s", err, out, ty.screen())
	}
	time.Sleep(50 * time.Millisecond)
	screen := ty.screen()
	if strings.Count(screen, "Password") != 2 || !strings.Contains(screen, "Password (again): ") {
		t.Errorf("the terminal shows %q, want the two prompts", screen)
	}
	if strings.Contains(screen, "tty-password-1") {
		t.Errorf("the password was echoed: %q", screen)
	}
	s.newClient(false).login("ttyroot", "tty-password-1")

	master, tty = openPTY(t)
	ty = &typist{}
	ty.type_(t, master, tty, "tty-password-2", "tty-password-3")
	if out, err := runOnTerminal(env, tty, "users", "create-superadmin", "--username", "ttyroot2"); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("two different passwords: %v\n%s", err, out)
	}
	if n := s.queryInt(`SELECT count(*) FROM users WHERE username = 'ttyroot2'`); n != 0 {
		t.Errorf("a mismatch created the user")
	}
}
