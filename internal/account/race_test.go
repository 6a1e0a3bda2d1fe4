package account

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accounts/internal/password"
)

// The tests in this file race a login, or an admin's request, against a
// credential change at many jittered offsets, and check afterwards what
// must hold whichever way each race went: no session made from a check
// that predates a committed password set or change or a deactivation is
// usable, no password is reverted, and no admin action runs after the
// admin lost the role or the account.

// raceRounds is how many times each race runs.
const raceRounds = 100

// raceHasher costs about a millisecond a hash here: dear enough that a
// login spends its check long enough for the other side to commit inside
// it, cheap enough for hundreds of rounds.
func raceHasher(t *testing.T, passes uint32) *password.Hasher {
	t.Helper()
	h, err := password.New(password.Options{
		Params:        password.Params{Time: passes, MemoryKiB: 512, Threads: 1},
		Pepper:        []byte("test pepper"),
		MaxConcurrent: 4,
		MaxWait:       10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type raceFixture struct {
	fixture
	admin User
	// span is how long one login takes: the offsets are drawn from it.
	span time.Duration
}

func newRaceFixture(t *testing.T) raceFixture {
	t.Helper()
	db := testDB(t)
	h := raceHasher(t, 1)
	c := &clock{t: time.Now()}
	f := raceFixture{fixture: fixture{users: NewUsers(db, h), sessions: NewSessions(db, h, 30*time.Minute, c.now), clock: c, db: db}}
	ctx := context.Background()
	var err error
	if f.admin, err = f.users.CreateSuperAdmin(ctx, NewUser{Username: "racer-admin", Password: "admin-password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.users.SignUp(ctx, NewUser{Username: "victim", Password: "password-0"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 5 {
		if _, err := raceLogin(ctx, f.sessions, "victim", "password-0"); err != nil {
			t.Fatal(err)
		}
	}
	f.span = time.Since(start) / 5
	return f
}

// raceLogin logs in as a client with no device cookie from one address.
func raceLogin(ctx context.Context, s *Sessions, name, pw string) (Login, error) {
	return s.Login(ctx, Credentials{Username: name, Password: pw})
}

// jitter waits a random part of span, so that over the rounds the second
// side of a race starts everywhere inside the first side's work.
func jitter(span time.Duration) {
	time.Sleep(time.Duration(rand.Int64N(int64(span) + 1)))
}

// race runs login and change at once, change starting after a jittered
// offset, and returns the login's result.
func race(span time.Duration, login func() (Login, error), change func() error) (Login, error, error) {
	var (
		wg        sync.WaitGroup
		l         Login
		lerr, cer error
	)
	wg.Go(func() { l, lerr = login() })
	wg.Go(func() {
		jitter(span)
		cer = change()
	})
	wg.Wait()
	return l, lerr, cer
}

func (f raceFixture) victim(t *testing.T) User {
	t.Helper()
	u, err := f.users.client.User.Query().Where(usernameFold("victim")).Only(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fromEnt(u)
}

// survives reports whether a login's session still authenticates.
func (f raceFixture) survives(t *testing.T, l Login) bool {
	t.Helper()
	if l.Token == "" {
		return false
	}
	_, err := f.sessions.Authenticate(context.Background(), l.Token)
	switch ErrorCode(err) {
	case "":
		return true
	case CodeUnauthenticated, CodeAccountInactive:
		return false
	}
	t.Fatalf("authenticate: %v", err)
	return false
}

// TestRaceLoginVersusAdminReset: a login with the old password racing an
// admin's reset leaves no live session, and the old password stays dead.
func TestRaceLoginVersusAdminReset(t *testing.T) {
	t.Parallel()
	f := newRaceFixture(t)
	ctx := context.Background()
	id := f.victim(t).ID
	survived := 0
	for i := range raceRounds {
		old, next := passwordN(i), passwordN(i+1)
		l, lerr, cerr := race(f.span,
			func() (Login, error) { return raceLogin(ctx, f.sessions, "victim", old) },
			func() error { return f.users.SetPassword(ctx, f.admin, id, next) })
		if cerr != nil {
			t.Fatalf("round %d: reset: %v", i, cerr)
		}
		if lerr != nil && ErrorCode(lerr) != CodeInvalidCredentials {
			t.Fatalf("round %d: login: %v", i, lerr)
		}
		if f.survives(t, l) {
			survived++
		}
	}
	if survived > 0 {
		t.Fatalf("%d of %d sessions from logins with the old password survived the admin's reset", survived, raceRounds)
	}
}

// TestRaceLoginVersusOwnChange: a login with the old password racing the
// owner's own change leaves no live session with the old password.
func TestRaceLoginVersusOwnChange(t *testing.T) {
	t.Parallel()
	f := newRaceFixture(t)
	ctx := context.Background()
	survived := 0
	for i := range raceRounds {
		old, next := passwordN(i), passwordN(i+1)
		owner, err := raceLogin(ctx, f.sessions, "victim", old)
		if err != nil {
			t.Fatalf("round %d: owner login: %v", i, err)
		}
		p, err := f.sessions.Authenticate(ctx, owner.Token)
		if err != nil {
			t.Fatal(err)
		}
		l, lerr, cerr := race(f.span,
			func() (Login, error) { return raceLogin(ctx, f.sessions, "victim", old) },
			func() error { return changeOwn(ctx, f.sessions, p, old, next) })
		if cerr != nil {
			t.Fatalf("round %d: change: %v", i, cerr)
		}
		if lerr != nil && ErrorCode(lerr) != CodeInvalidCredentials {
			t.Fatalf("round %d: login: %v", i, lerr)
		}
		if f.survives(t, l) {
			survived++
		}
	}
	if survived > 0 {
		t.Fatalf("%d of %d sessions from logins with the old password survived the owner's change", survived, raceRounds)
	}
}

// TestRaceLoginVersusDeactivation: a login racing a deactivation leaves no
// session, not even once the account is activated again.
func TestRaceLoginVersusDeactivation(t *testing.T) {
	t.Parallel()
	f := newRaceFixture(t)
	ctx := context.Background()
	id := f.victim(t).ID
	survived := 0
	for i := range raceRounds {
		l, lerr, cerr := race(f.span,
			func() (Login, error) { return raceLogin(ctx, f.sessions, "victim", "password-0") },
			func() error { return f.users.SetActive(ctx, f.admin, id, false) })
		if cerr != nil {
			t.Fatalf("round %d: deactivate: %v", i, cerr)
		}
		if c := ErrorCode(lerr); c != "" && c != CodeAccountInactive && c != CodeInvalidCredentials {
			t.Fatalf("round %d: login: %v", i, lerr)
		}
		if err := f.users.SetActive(ctx, f.admin, id, true); err != nil {
			t.Fatal(err)
		}
		if f.survives(t, l) {
			survived++
		}
	}
	if survived > 0 {
		t.Fatalf("%d of %d sessions from logins racing a deactivation worked after reactivation", survived, raceRounds)
	}
}

// TestRaceRehashVersusAdminReset: after an argon2 parameter change, a
// login with the old password rehashes it; an admin's reset committing
// meanwhile must win: the new password works and the old one never again.
func TestRaceRehashVersusAdminReset(t *testing.T) {
	t.Parallel()
	f := newRaceFixture(t)
	ctx := context.Background()
	// Logins check with stronger parameters, so every stored hash (made
	// by f.users with one pass) asks for a rehash.
	upgraded := NewSessions(f.db, raceHasher(t, 2), 30*time.Minute, f.clock.now)
	id := f.victim(t).ID
	reverted := 0
	for i := range raceRounds {
		old, next := passwordN(i), passwordN(i+1)
		_, lerr, cerr := race(f.span,
			func() (Login, error) { return raceLogin(ctx, upgraded, "victim", old) },
			func() error { return f.users.SetPassword(ctx, f.admin, id, next) })
		if cerr != nil {
			t.Fatalf("round %d: reset: %v", i, cerr)
		}
		if lerr != nil && ErrorCode(lerr) != CodeInvalidCredentials {
			t.Fatalf("round %d: login: %v", i, lerr)
		}
		if _, err := raceLogin(ctx, f.sessions, "victim", old); err == nil {
			reverted++
		}
		if _, err := raceLogin(ctx, f.sessions, "victim", next); err != nil {
			t.Fatalf("round %d: the new password is refused after the reset answered success: %v", i, err)
		}
	}
	if reverted > 0 {
		t.Fatalf("%d of %d resets were undone by a racing rehash", reverted, raceRounds)
	}
}

// TestAdminActionAfterRevoke: an admin's request that read the admin's
// role before a revoke (or a deactivation) committed must not act after
// it; the caller's role and state are re-read under the target's lock.
func TestAdminActionAfterRevoke(t *testing.T) {
	t.Parallel()
	f := newRaceFixture(t)
	ctx := context.Background()
	victim := f.victim(t).ID
	acted := 0
	for i := range raceRounds {
		name := "admin-" + uuid.NewString()[:8]
		a, err := f.users.Create(ctx, f.admin, NewUser{Username: name, Password: "admin-password", Role: RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		// stale is the admin as its request read it, before the super
		// admin's revoke (even rounds) or deactivation (odd) committed.
		stale := a
		if i%2 == 0 {
			err = f.users.SetAdmin(ctx, f.admin, a.ID, false)
		} else {
			err = f.users.SetActive(ctx, f.admin, a.ID, false)
		}
		if err != nil {
			t.Fatal(err)
		}
		jitter(f.span)
		aerr := f.users.SetActive(ctx, stale, victim, i%4 < 2)
		if aerr == nil {
			acted++
		} else if c := ErrorCode(aerr); c != CodeForbidden && c != CodeAccountInactive {
			t.Fatalf("round %d: stale admin action: %v", i, aerr)
		}
		if err := f.users.SetActive(ctx, f.admin, victim, true); err != nil {
			t.Fatal(err)
		}
	}
	if acted > 0 {
		t.Fatalf("%d of %d admin actions ran after the admin's role or account was taken away", acted, raceRounds)
	}
}

func passwordN(i int) string { return "password-" + strconv.Itoa(i) }

// changeOwn changes the caller's own password.
func changeOwn(ctx context.Context, s *Sessions, p Principal, current, next string) error {
	_, err := s.ChangePassword(ctx, p, PasswordChange{Current: current, New: next})
	return err
}
