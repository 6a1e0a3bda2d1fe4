package account

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"accounts/internal/throttle"
)

// guarded is a fixture whose sessions draw on a Guard with limits.
func guarded(t *testing.T, limits Limits) (fixture, *Guard) {
	t.Helper()
	f := newFixture(t)
	key := []byte(strings.Repeat("k", 32))
	if limits.DeviceLifetime == 0 {
		limits.DeviceLifetime = 24 * time.Hour
	}
	g := NewGuard(throttle.New(f.db.Ent, key, 16, f.clock.now), limits, key)
	f.sessions.SetGuard(g)
	return f, g
}

// signedIn signs name up with pw, logs it in from address and returns
// the session's principal.
func signedIn(ctx context.Context, t *testing.T, f fixture, name, pw, address string) Principal {
	t.Helper()
	if _, err := f.users.SignUp(ctx, NewUser{Username: name, Password: pw}); err != nil {
		t.Fatal(err)
	}
	l, err := f.sessions.Login(ctx, Credentials{Username: name, Password: pw, From: Client{Address: address}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.sessions.Authenticate(ctx, l.Token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// strangersFail makes n wrong logins as name, each from its own address.
func strangersFail(ctx context.Context, f fixture, name string, n int) {
	for i := range n {
		_, _ = f.sessions.Login(ctx, Credentials{Username: name, Password: "wrong-password",
			From: Client{Address: fmt.Sprintf("198.51.100.%d", i+1)}})
	}
}

// TestStrangersCannotBlockPasswordChange (issue 29, finding 1): wrong
// logins for the victim's name from anywhere spend the name's untrusted
// login budget, never what the victim's own session needs to change the
// password.
func TestStrangersCannotBlockPasswordChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := guarded(t, Limits{
		PerUsername: throttle.Limit{Max: 3, Window: 15 * time.Minute},
		PerAddress:  throttle.Limit{Max: 3, Window: 15 * time.Minute},
	})
	p := signedIn(ctx, t, f, "victim1", "victim-password", "203.0.113.5")
	strangersFail(ctx, f, "victim1", 10)
	// From the victim's own address too: a stranger behind the same NAT
	// spends that budget as well.
	for range 5 {
		_, _ = f.sessions.Login(ctx, Credentials{Username: "victim1", Password: "wrong-password", From: Client{Address: "203.0.113.5"}})
	}
	_, err := f.sessions.ChangePassword(ctx, p, PasswordChange{Current: "victim-password", New: "victim-password-2",
		From: Client{Address: "203.0.113.5"}})
	if err != nil {
		t.Fatalf("the victim's own password change after strangers' wrong logins: %v", err)
	}
}

// TestSetPasswordClearsCounters (issue 29, finding 1): once an operator
// sets a password, or activates the user, the user's login budgets that
// strangers spent are full again, so the owner is not locked out.
func TestSetPasswordClearsCounters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := guarded(t, Limits{PerUsername: throttle.Limit{Max: 3, Window: 15 * time.Minute}})
	signedIn(ctx, t, f, "victim2", "victim-password", "203.0.113.5")
	strangersFail(ctx, f, "victim2", 5)
	if _, err := f.users.Operator().SetPassword(ctx, "victim2", "fresh-password"); err != nil {
		t.Fatal(err)
	}
	// The server remembers a spent budget for a second (throttle); the
	// command runs in another process.
	f.clock.advance(time.Second)
	login := func() error {
		_, err := f.sessions.Login(ctx, Credentials{Username: "victim2", Password: "fresh-password", From: Client{Address: "203.0.113.6"}})
		return err
	}
	if err := login(); err != nil {
		t.Fatalf("login with the password the operator set: %v", err)
	}
	strangersFail(ctx, f, "victim2", 5)
	mustCode(t, login(), CodeTooManyAttempts)
	for _, active := range []bool{false, true} {
		if _, err := f.users.Operator().SetActive(ctx, "victim2", active, false); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.advance(time.Second)
	if err := login(); err != nil {
		t.Fatalf("login after the operator activated the user again: %v", err)
	}
}

// TestInactiveAnswersAsWrongPassword (issue 29, finding 8): a login to a
// deactivated account with its right password answers as a wrong one
// would, and counts as a failure, so neither the answer nor the budget
// confirms a guessed password.
func TestInactiveAnswersAsWrongPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := guarded(t, Limits{PerUsername: throttle.Limit{Max: 2, Window: 15 * time.Minute}})
	signedIn(ctx, t, f, "gone1", "gone-password", "203.0.113.5")
	if _, err := f.users.Operator().SetActive(ctx, "gone1", false, false); err != nil {
		t.Fatal(err)
	}
	var codes []Code
	for i := range 3 {
		_, err := f.sessions.Login(ctx, Credentials{Username: "gone1", Password: "gone-password",
			From: Client{Address: fmt.Sprintf("198.51.100.%d", i+1)}})
		codes = append(codes, ErrorCode(err))
	}
	want := []Code{CodeInvalidCredentials, CodeInvalidCredentials, CodeTooManyAttempts}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("three logins with the right password of a deactivated account: %v, want %v (as for a wrong one)", codes, want)
	}
}

// TestUnthrottleClearsAndAudits: users unthrottle gives the owner back the
// budgets strangers spent, and the trail says who did it and how much.
func TestUnthrottleClearsAndAudits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := guarded(t, Limits{PerUsername: throttle.Limit{Max: 3, Window: 15 * time.Minute}})
	signedIn(ctx, t, f, "victim3", "victim-password", "203.0.113.5")
	strangersFail(ctx, f, "victim3", 5)
	login := func() error {
		_, err := f.sessions.Login(ctx, Credentials{Username: "victim3", Password: "victim-password", From: Client{Address: "203.0.113.6"}})
		return err
	}
	mustCode(t, login(), CodeTooManyAttempts)
	c, err := f.users.Operator().Unthrottle(WithOrigin(ctx, Origin{Operator: "root@host"}), "VICTIM3")
	if err != nil || !c.Changed || c.CountersCleared != 1 {
		t.Fatalf("Unthrottle = %+v, %v; want one counter cleared", c, err)
	}
	f.clock.advance(time.Second) // as in TestSetPasswordClearsCounters
	if err := login(); err != nil {
		t.Fatalf("login after unthrottle: %v", err)
	}
	page, err := NewAudit(f.db).List(ctx, AuditFilter{Limit: 10, Action: AuditUnthrottled})
	if err != nil || len(page.Events) != 1 || page.Events[0].ActorName != "cli:root@host" || fmt.Sprint(page.Events[0].Details["counters_cleared"]) != "1" {
		t.Fatalf("audit of unthrottle: %+v, %v", page.Events, err)
	}
}

// TestStolenSessionGuessesBounded: a session guessing its user's current
// password gets its own small budget, then 429 even for the right one;
// the owner's other session is not held back by it.
func TestStolenSessionGuessesBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := guarded(t, Limits{PasswordFailuresPerSession: throttle.Limit{Max: 3, Window: 15 * time.Minute}})
	stolen := signedIn(ctx, t, f, "owner4", "owner-password", "203.0.113.5")
	change := func(p Principal, current string) error {
		_, err := f.sessions.ChangePassword(ctx, p, PasswordChange{Current: current, New: "owner-password-2", From: Client{Address: "198.51.100.1"}})
		return err
	}
	for range 3 {
		mustCode(t, change(stolen, "guess-password"), CodeWrongPassword)
	}
	mustCode(t, change(stolen, "owner-password"), CodeTooManyAttempts)
	l, err := f.sessions.Login(ctx, Credentials{Username: "owner4", Password: "owner-password", From: Client{Address: "203.0.113.5"}})
	if err != nil {
		t.Fatal(err)
	}
	own, err := f.sessions.Authenticate(ctx, l.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := change(own, "owner-password"); err != nil {
		t.Fatalf("the owner's own session after a stolen one spent its budget: %v", err)
	}
}

// TestEveryVerificationPaid (issue 29, finding 2): right passwords are
// paid from the account's verification budget too; another account's is
// its own.
func TestEveryVerificationPaid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := guarded(t, Limits{VerificationsPerAccount: throttle.Limit{Max: 3, Window: time.Minute}})
	signedIn(ctx, t, f, "looper5", "looper-password", "198.51.100.1")
	signedIn(ctx, t, f, "other5", "other-password", "198.51.100.1")
	var codes []Code
	for range 3 {
		_, err := f.sessions.Login(ctx, Credentials{Username: "looper5", Password: "looper-password", From: Client{Address: "198.51.100.1"}})
		codes = append(codes, ErrorCode(err))
	}
	want := []Code{"", "", CodeTooManyAttempts}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("right logins after the sign-in's: %v, want %v", codes, want)
	}
	if _, err := f.sessions.Login(ctx, Credentials{Username: "other5", Password: "other-password", From: Client{Address: "198.51.100.1"}}); err != nil {
		t.Fatalf("another account's login: %v", err)
	}
}
