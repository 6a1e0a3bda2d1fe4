package account

import (
	"context"
	"testing"
	"time"
)

// TestSessionAbsoluteLifetime (finding 9): a session used all along slides
// forward only until its absolute lifetime from the login; then it ends.
func TestSessionAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sessions.SetMaxLifetime(2 * time.Hour)
	ctx := context.Background()
	if _, err := f.users.SignUp(ctx, NewUser{Username: "slider", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	l, err := f.sessions.Login(ctx, Credentials{Username: "slider", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := f.clock.now().Add(2 * time.Hour)
	for range 20 {
		f.clock.advance(25 * time.Minute)
		p, err := f.sessions.Authenticate(ctx, l.Token)
		if !f.clock.now().Before(deadline) {
			mustCode(t, err, CodeUnauthenticated)
			return
		}
		if err != nil {
			t.Fatalf("at %s of 2h: %v", f.clock.now().Sub(deadline.Add(-2*time.Hour)), err)
		}
		if p.Session.ExpiresAt.After(deadline) {
			t.Fatalf("extended to %s, past the absolute lifetime %s", p.Session.ExpiresAt, deadline)
		}
	}
	t.Fatal("the session outlived its absolute lifetime")
}

// TestSessionTableBoundedUnderLoginFlood: a flood of logins by one user
// keeps at most MaxSessionsPerUser of its sessions, and Purge removes
// expired sessions in batches, so the table stays bounded.
func TestSessionTableBoundedUnderLoginFlood(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range []string{"flooder", "sleeper"} {
		if _, err := f.users.SignUp(ctx, NewUser{Username: n, Password: "password1"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 30 {
		if _, err := f.sessions.Login(ctx, Credentials{Username: "sleeper", Password: "password1"}); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.advance(31 * time.Minute) // the sleeper's sessions expire
	var last Login
	for range 3 * MaxSessionsPerUser {
		l, err := f.sessions.Login(ctx, Credentials{Username: "flooder", Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		last = l
	}
	total := 0
	for {
		n, err := f.sessions.Purge(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if n > 7 {
			t.Fatalf("one purge deleted %d rows, more than its batch of 7", n)
		}
		if n == 0 {
			break
		}
		total += n
	}
	rows, err := f.sessions.client.AuthSession.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d logins by one user and 30 expired: %d rows (%d purged)", 3*MaxSessionsPerUser, rows, total)
	if rows != MaxSessionsPerUser || total != 30 {
		t.Fatalf("%d sessions left and %d purged; want %d and 30", rows, total, MaxSessionsPerUser)
	}
	if _, err := f.sessions.Authenticate(ctx, last.Token); err != nil {
		t.Fatalf("the newest session: %v", err)
	}
}
