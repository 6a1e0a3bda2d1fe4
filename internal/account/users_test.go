package account

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accounts/internal/database"
	"accounts/internal/password"
)

type fixture struct {
	users    *Users
	sessions *Sessions
	clock    *clock
	db       *database.DB
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db := testDB(t)
	h := testHasher(t)
	c := &clock{t: time.Now()}
	return fixture{users: NewUsers(db, h), sessions: NewSessions(db, h, 30*time.Minute, c.now), clock: c, db: db}
}

func mustCode(t *testing.T, err error, want Code) {
	t.Helper()
	if got := ErrorCode(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

func TestSignUpAndCaseInsensitiveUniqueness(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.users.SignUp(ctx, NewUser{Username: "Alice", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != RoleUser || !u.IsActive || u.ID.Version() != 7 {
		t.Fatalf("signed-up user %+v: want an active user with a UUIDv7 id", u)
	}
	_, err = f.users.SignUp(ctx, NewUser{Username: "alice", Password: "password2"})
	mustCode(t, err, CodeUsernameTaken)
	_, err = f.users.SignUp(ctx, NewUser{Username: "bad..name", Password: "short"})
	mustCode(t, err, CodeValidationFailed)
	if fe := err.(*Error).Fields; len(fe) != 2 {
		t.Fatalf("validation fields %+v, want username and password", fe)
	}
}

// TestConcurrentSignUps: many sign-ups of one name in different cases at
// once; the database index decides, so exactly one wins and the rest get
// username_taken, never an internal error.
func TestConcurrentSignUps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	codes := make([]Code, 8)
	for i := range codes {
		name := []string{"Bobby", "bobby", "BOBBY", "bObBy"}[i%4]
		wg.Go(func() {
			_, err := f.users.SignUp(context.Background(), NewUser{Username: name, Password: "password1"})
			codes[i] = ErrorCode(err)
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case "":
			won++
		case CodeUsernameTaken:
		default:
			t.Errorf("unexpected code %q", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d sign-ups won, want exactly 1 (codes %v)", won, codes)
	}
}

func TestLoginAndSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.users.SignUp(ctx, NewUser{Username: "carol", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.sessions.Login(ctx, Credentials{Username: "carol", Password: "wrong password"})
	mustCode(t, err, CodeInvalidCredentials)
	_, err = f.sessions.Login(ctx, Credentials{Username: "nobody", Password: "password1"})
	mustCode(t, err, CodeInvalidCredentials)

	l1, err := f.sessions.Login(ctx, Credentials{Username: "CAROL", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := f.sessions.Login(ctx, Credentials{Username: "carol", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	if l1.Token == l2.Token || len(l1.Token) != 43 {
		t.Fatalf("tokens %q and %q: want two distinct 43-character tokens", l1.Token, l2.Token)
	}
	p, err := f.sessions.Authenticate(ctx, l1.Token)
	if err != nil || p.User.Username != "carol" || p.Extended {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	// With more than a fifth of the TTL left nothing moves; below it the
	// session is extended to a full TTL from now.
	f.clock.advance(23 * time.Minute)
	p, _ = f.sessions.Authenticate(ctx, l1.Token)
	if p.Extended {
		t.Fatal("extended with 7 of 30 minutes left")
	}
	f.clock.advance(2 * time.Minute)
	p, err = f.sessions.Authenticate(ctx, l1.Token)
	if err != nil || !p.Extended || !p.Session.ExpiresAt.Equal(f.clock.now().Add(30*time.Minute)) {
		t.Fatalf("with 5 of 30 minutes left: %+v, %v; want extended to now+30m", p, err)
	}
	// l2 was not used, so it expires on time.
	f.clock.advance(6 * time.Minute)
	_, err = f.sessions.Authenticate(ctx, l2.Token)
	mustCode(t, err, CodeUnauthenticated)
	if _, err := f.sessions.Authenticate(ctx, l1.Token); err != nil {
		t.Fatalf("extended session: %v", err)
	}

	// Own password change: every session ends, the one that asked
	// included, and the answer carries a new one.
	l3, _ := f.sessions.Login(ctx, Credentials{Username: "carol", Password: "password1"})
	p1, _ := f.sessions.Authenticate(ctx, l1.Token)
	_, err = f.sessions.ChangePassword(ctx, p1, PasswordChange{Current: "nope-nope", New: "password2"})
	mustCode(t, err, CodeWrongPassword)
	_, err = f.sessions.ChangePassword(ctx, p1, PasswordChange{Current: "password1", New: "password1"})
	mustCode(t, err, CodeValidationFailed)
	l4, err := f.sessions.ChangePassword(ctx, p1, PasswordChange{Current: "password1", New: "password2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{l1.Token, l3.Token} {
		_, err = f.sessions.Authenticate(ctx, old)
		mustCode(t, err, CodeUnauthenticated)
	}
	if p4, err := f.sessions.Authenticate(ctx, l4.Token); err != nil || p4.User.ID != p1.User.ID || l4.Token == l1.Token {
		t.Fatalf("the session the change returned: %+v, %v", p4, err)
	}

	for _, bad := range []string{"", "x", l1.Token + "x", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"} {
		_, err := f.sessions.Authenticate(ctx, bad)
		mustCode(t, err, CodeUnauthenticated)
	}
	if err := f.sessions.Logout(ctx, p1, LogoutLocal); err != nil {
		t.Fatal(err)
	}
	_, err = f.sessions.Authenticate(ctx, l1.Token)
	mustCode(t, err, CodeUnauthenticated)
}

func TestAdminActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	super, err := f.users.CreateSuperAdmin(ctx, NewUser{Username: "root1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := f.users.Create(ctx, super, NewUser{Username: "admin1", Password: "password1", Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.users.Create(ctx, admin, NewUser{Username: "admin2", Password: "password1", Role: RoleAdmin})
	mustCode(t, err, CodeForbidden)
	_, err = f.users.Create(ctx, super, NewUser{Username: "root2", Password: "password1", Role: RoleSuperAdmin})
	mustCode(t, err, CodeValidationFailed)
	user, err := f.users.Create(ctx, admin, NewUser{Username: "user1", Password: "password1"})
	if err != nil || user.Role != RoleUser {
		t.Fatalf("admin creates user: %+v, %v", user, err)
	}
	login, err := f.sessions.Login(ctx, Credentials{Username: "user1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}

	// Idempotent: activating an active user writes nothing.
	before, _ := f.users.ByID(ctx, user.ID)
	time.Sleep(5 * time.Millisecond) // so that a write would show in updated_at
	if err := f.users.SetActive(ctx, admin, user.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := f.users.SetAdmin(ctx, super, user.ID, false); err != nil {
		t.Fatal(err)
	}
	after, _ := f.users.ByID(ctx, user.ID)
	if !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("no-op changes moved updated_at from %s to %s", before.UpdatedAt, after.UpdatedAt)
	}

	// Deactivation ends the user's sessions; the user stays in the table.
	if err := f.users.SetActive(ctx, admin, user.ID, false); err != nil {
		t.Fatal(err)
	}
	_, err = f.sessions.Authenticate(ctx, login.Token)
	mustCode(t, err, CodeUnauthenticated)
	_, err = f.sessions.Login(ctx, Credentials{Username: "user1", Password: "password1"})
	mustCode(t, err, CodeInvalidCredentials)
	_, err = f.sessions.Login(ctx, Credentials{Username: "user1", Password: "wrong password"})
	mustCode(t, err, CodeInvalidCredentials)
	got, err := f.users.Get(ctx, Principal{User: admin}, user.ID)
	if err != nil || got.IsActive {
		t.Fatalf("Get deactivated: %+v, %v", got, err)
	}

	mustCode(t, f.users.SetAdmin(ctx, admin, user.ID, true), CodeForbidden)
	if err := f.users.SetAdmin(ctx, super, user.ID, true); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.users.ByID(ctx, user.ID); u.Role != RoleAdmin {
		t.Fatalf("role after grant: %s", u.Role)
	}
	// Now an admin, user1 is out of admin1's reach.
	mustCode(t, f.users.SetActive(ctx, admin, user.ID, true), CodeForbidden)
	mustCode(t, f.users.SetPassword(ctx, admin, user.ID, "password9"), CodeForbidden)
	mustCode(t, f.users.SetActive(ctx, super, uuid.Must(uuid.NewV7()), true), CodeUserNotFound)
	mustCode(t, f.users.SetActive(ctx, super, super.ID, false), CodeForbidden)

	// Admin password set ends the target's sessions.
	if err := f.users.SetActive(ctx, super, user.ID, true); err != nil {
		t.Fatal(err)
	}
	l, err := f.sessions.Login(ctx, Credentials{Username: "user1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.users.SetPassword(ctx, super, user.ID, "password9"); err != nil {
		t.Fatal(err)
	}
	_, err = f.sessions.Authenticate(ctx, l.Token)
	mustCode(t, err, CodeUnauthenticated)
	if _, err := f.sessions.Login(ctx, Credentials{Username: "user1", Password: "password9"}); err != nil {
		t.Fatal(err)
	}
}

// TestInactiveSessionEndsAll: a session whose user was deactivated behind
// the service's back (directly in the table) answers account_inactive and
// ends all of that user's sessions.
func TestInactiveSessionEndsAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u, _ := f.users.SignUp(ctx, NewUser{Username: "dave1", Password: "password1"})
	l1, _ := f.sessions.Login(ctx, Credentials{Username: "dave1", Password: "password1"})
	l2, _ := f.sessions.Login(ctx, Credentials{Username: "dave1", Password: "password1"})
	if err := f.users.client.User.UpdateOneID(u.ID).SetIsActive(false).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := f.sessions.Authenticate(ctx, l1.Token)
	mustCode(t, err, CodeAccountInactive)
	if err := f.users.client.User.UpdateOneID(u.ID).SetIsActive(true).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = f.sessions.Authenticate(ctx, l2.Token)
	mustCode(t, err, CodeUnauthenticated)
}

// TestRehashOnLogin: a hash made under old parameters is replaced at the
// next successful login.
func TestRehashOnLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u, _ := f.users.SignUp(ctx, NewUser{Username: "erin1", Password: "password1"})
	old := "$argon2id$v=19$m=64,t=1,p=1,keyid=" + f.users.PepperKeyID() + "$"
	row, _ := f.users.client.User.Get(ctx, u.ID)
	if string(row.PasswordHash[:len(old)]) != old {
		t.Fatalf("unexpected hash prefix %q", row.PasswordHash[:len(old)])
	}
	h2, err := newHasherWith(t, 2)
	if err != nil {
		t.Fatal(err)
	}
	s2 := NewSessions(f.db, h2, time.Hour, nil)
	if _, err := s2.Login(ctx, Credentials{Username: "erin1", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	row, _ = f.users.client.User.Get(ctx, u.ID)
	if want := "$argon2id$v=19$m=64,t=2,p=1,keyid=" + h2.KeyID() + "$"; string(row.PasswordHash[:len(want)]) != want {
		t.Fatalf("hash after login %q..., want rehashed with t=2", row.PasswordHash[:len(want)])
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	super, _ := f.users.CreateSuperAdmin(ctx, NewUser{Username: "root1", Password: "password1"})
	for i := range 7 {
		role := RoleUser
		if i%3 == 0 {
			role = RoleAdmin
		}
		if _, err := f.users.Create(ctx, super, NewUser{Username: fmt.Sprintf("user%d", 7-i), Password: "password1", Role: role}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := f.users.List(ctx, super, ListParams{Limit: 3, Offset: 1, Sort: "username"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 8 || len(page.Users) != 3 || page.Users[0].Username != "user1" || page.Users[2].Username != "user3" {
		t.Fatalf("page %+v", page)
	}
	admin := RoleAdmin
	page, _ = f.users.List(ctx, super, ListParams{Limit: 100, Sort: "created_at", Desc: true, Role: &admin})
	if page.Total != 3 || page.Users[0].Username != "user1" {
		t.Fatalf("admins newest first: %+v", page)
	}
	page, _ = f.users.List(ctx, super, ListParams{Limit: 10, Offset: 50, Sort: "role"})
	if page.Total != 8 || len(page.Users) != 0 {
		t.Fatalf("past the end: %+v", page)
	}
	// The limit, offset, sort and role are openapi.yaml's to check, and the
	// caller the API's (x-required-role); the domain keeps the cursor's rules.
	first, _ := f.users.List(ctx, super, ListParams{Limit: 1, Sort: "username"})
	err = ListParams{Limit: 1, Offset: 1, Sort: "username", After: first.NextCursor}.Validate()
	mustCode(t, err, CodeValidationFailed)
	if fe := err.(*Error).Fields; len(fe) != 1 || fe[0].Field != "after" {
		t.Fatalf("invalid fields %v, want after", fe)
	}
}

// TestListKeyset pages through every sort field and order with cursors and
// checks that the pages join up to the same sequence offset paging gives:
// no user skipped or repeated at a page boundary, also among users with
// equal sort keys (role and is_active repeat, so ties are broken by id).
func TestListKeyset(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	super := seedKeysetUsers(ctx, t, f)
	for _, sort := range SortFields {
		for _, desc := range []bool{false, true} {
			checkCursorPagesJoin(ctx, t, f, super, sort, desc)
		}
	}
	checkCursorRejected(ctx, t, f, super)
}

// seedKeysetUsers creates a super admin and eleven users whose usernames
// run against their creation order, with admins and inactive users mixed
// in so that role and is_active repeat; it returns the super admin.
func seedKeysetUsers(ctx context.Context, t *testing.T, f fixture) User {
	t.Helper()
	super, _ := f.users.CreateSuperAdmin(ctx, NewUser{Username: "root1", Password: "password1"})
	for i := range 11 {
		role := RoleUser
		if i%4 == 0 {
			role = RoleAdmin
		}
		u, err := f.users.Create(ctx, super, NewUser{Username: fmt.Sprintf("user%02d", 11-i), Password: "password1", Role: role})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := f.users.SetActive(ctx, super, u.ID, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	return super
}

// userIDs returns the ids of us in order.
func userIDs(us []User) (out []uuid.UUID) {
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// checkCursorPagesJoin lists all twelve users on one page, then pages
// through them five at a time with cursors, and fails unless the cursor
// pages give the same sequence and every page reports the full total.
func checkCursorPagesJoin(ctx context.Context, t *testing.T, f fixture, super User, sort string, desc bool) {
	t.Helper()
	all, err := f.users.List(ctx, super, ListParams{Limit: 100, Sort: sort, Desc: desc})
	if err != nil {
		t.Fatal(err)
	}
	if all.NextCursor != "" || len(all.Users) != 12 || all.Total != 12 || !all.TotalExact {
		t.Fatalf("sort=%s desc=%v: one page of all: %d users, total %d exact %v, cursor %q", sort, desc, len(all.Users), all.Total, all.TotalExact, all.NextCursor)
	}
	var got []User
	p := ListParams{Limit: 5, Sort: sort, Desc: desc}
	for range 10 {
		page, err := f.users.List(ctx, super, p)
		if err != nil {
			t.Fatalf("sort=%s desc=%v after %q: %v", sort, desc, p.After, err)
		}
		if page.Total != 12 {
			t.Fatalf("sort=%s: total %d on a cursor page, want 12 (all pages)", sort, page.Total)
		}
		got = append(got, page.Users...)
		if page.NextCursor == "" {
			break
		}
		p.After = page.NextCursor
	}
	if !slices.Equal(userIDs(got), userIDs(all.Users)) {
		t.Fatalf("sort=%s desc=%v: cursor pages give another sequence than one page", sort, desc)
	}
}

// checkCursorRejected takes a cursor from a first page and checks that a
// garbage cursor, or the cursor with another sort, order or an offset, is
// refused on the after field, and that a role filter still applies after
// a valid cursor.
func checkCursorRejected(ctx context.Context, t *testing.T, f fixture, super User) {
	t.Helper()
	first, _ := f.users.List(ctx, super, ListParams{Limit: 2, Sort: "created_at"})
	admin := RoleAdmin
	for _, tc := range []struct {
		name string
		p    ListParams
	}{
		{"garbage", ListParams{Limit: 2, Sort: "created_at", After: "not a cursor"}},
		{"other sort", ListParams{Limit: 2, Sort: "username", After: first.NextCursor}},
		{"other order", ListParams{Limit: 2, Sort: "created_at", Desc: true, After: first.NextCursor}},
		{"with offset", ListParams{Limit: 2, Offset: 2, Sort: "created_at", After: first.NextCursor}},
	} {
		_, err := f.users.List(ctx, super, tc.p)
		mustCode(t, err, CodeValidationFailed)
		if fs := err.(*Error).Fields; len(fs) != 1 || fs[0].Field != "after" {
			t.Fatalf("%s: %+v", tc.name, fs)
		}
	}
	// A filter applies after the cursor too.
	page, err := f.users.List(ctx, super, ListParams{Limit: 100, Sort: "created_at", Role: &admin, After: first.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range page.Users {
		if u.Role != RoleAdmin {
			t.Fatalf("role filter with a cursor let %s (%s) through", u.Username, u.Role)
		}
	}
}

// TestListCountStopsAtCap: past Offset + CountCap matching users the count
// stops and says so, rather than reading the whole table on every page.
func TestListCountStopsAtCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	super, _ := f.users.CreateSuperAdmin(ctx, NewUser{Username: "root1", Password: "password1"})
	if _, err := f.users.client.ExecContext(ctx, `INSERT INTO users (id, username, password_hash)
		SELECT gen_random_uuid(), 'bulk' || i, '\x00' FROM generate_series(1, $1::int) i`, CountCap+4); err != nil {
		t.Fatal(err)
	}
	const all = CountCap + 5
	page, err := f.users.List(ctx, super, ListParams{Limit: 10, Sort: "created_at"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != CountCap || page.TotalExact || len(page.Users) != 10 || page.NextCursor == "" {
		t.Fatalf("first page of %d: total %d exact %v, %d users", all, page.Total, page.TotalExact, len(page.Users))
	}
	page, _ = f.users.List(ctx, super, ListParams{Limit: 10, Offset: 5, Sort: "created_at"})
	if page.Total != all || !page.TotalExact {
		t.Fatalf("offset 5 of %d: total %d exact %v, want exact", all, page.Total, page.TotalExact)
	}
	inactive := false
	page, _ = f.users.List(ctx, super, ListParams{Limit: 10, Sort: "created_at", IsActive: &inactive})
	if page.Total != 0 || !page.TotalExact {
		t.Fatalf("no inactive users: total %d exact %v", page.Total, page.TotalExact)
	}
}

// TestLoginTimingUnknownUser: a login for a name that does not exist spends
// a hash like a wrong password does, so response time does not tell which
// names exist. With a hash that dominates the request (several ms), a
// login that skipped it would take a fraction of the time.
func TestLoginTimingUnknownUser(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	h, err := password.New(password.Options{
		Params:        password.Params{Time: 2, MemoryKiB: 8 * 1024, Threads: 1},
		MaxConcurrent: 1,
		MaxWait:       10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	users, sessions := NewUsers(db, h), NewSessions(db, h, time.Hour, nil)
	ctx := context.Background()
	if _, err := users.SignUp(ctx, NewUser{Username: "timing", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	// The two are measured in turns, so that load from the tests running
	// beside this one weighs on both alike.
	var wrongs, unknowns []time.Duration
	for range 7 {
		for _, name := range []string{"timing", "nobody"} {
			start := time.Now()
			_, err := sessions.Login(ctx, Credentials{Username: name, Password: "wrong password"})
			d := time.Since(start)
			mustCode(t, err, CodeInvalidCredentials)
			if name == "timing" {
				wrongs = append(wrongs, d)
			} else {
				unknowns = append(unknowns, d)
			}
		}
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	wrong, unknown := median(wrongs), median(unknowns)
	if unknown < wrong/2 {
		t.Fatalf("unknown user took %s, wrong password %s: the unknown user skips the hash", unknown, wrong)
	}
	t.Logf("median login: wrong password %s, unknown user %s", wrong, unknown)
}

// TestNewUserRoleDecided checks that SignUp and CreateSuperAdmin refuse a
// NewUser that asks for another role than the one they make, before any
// work: a caller cannot get an admin out of a sign-up.
func TestNewUserRoleDecided(t *testing.T) {
	t.Parallel()
	var s Users // no database: the refusal comes first
	ctx := context.Background()
	if _, err := s.SignUp(ctx, NewUser{Username: "someone", Password: "password1", Role: RoleAdmin}); err == nil {
		t.Error("SignUp with Role admin: no error")
	}
	if _, err := s.CreateSuperAdmin(ctx, NewUser{Username: "someone", Password: "password1", Role: RoleUser}); err == nil {
		t.Error("CreateSuperAdmin with Role user: no error")
	}
}
