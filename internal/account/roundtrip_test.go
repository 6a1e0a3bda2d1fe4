package account

import (
	"context"
	"log/slog"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/testdb"
)

// statementCounter is a log handler that counts the statements the
// database layer echoes (database.echo: one "sql" record a statement).
type statementCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (h statementCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h statementCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "sql" {
		h.n.Add(1)
	}
	return nil
}

// countingFixture is newFixture on a database layer that counts every
// statement it runs.
func countingFixture(t *testing.T) (fixture, *atomic.Int64) {
	t.Helper()
	d := config.Default().Database
	d.URL = testdb.URL(t)
	d.Echo = true
	n := new(atomic.Int64)
	db, err := database.Open(context.Background(), d, slog.New(statementCounter{Handler: slog.DiscardHandler, n: n}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	h := testHasher(t)
	c := &clock{t: time.Now()}
	return fixture{users: NewUsers(db, h), sessions: NewSessions(db, h, 30*time.Minute, c.now), clock: c, db: db}, n
}

// TestAuthenticatedReadIsOneStatement: an admin's read of a user by id,
// session lookup included, is one statement (the session, its user and
// the user read, in one round trip) once the read's audit row of the hour
// is written and while the session needs no touch; it answers what the
// read on its own answers, for another user, for the caller, and for an
// id nobody has. The session is still read afresh: a deactivation, which
// ends the user's sessions, is seen by the next read.
func TestAuthenticatedReadIsOneStatement(t *testing.T) {
	t.Parallel()
	f, statements := countingFixture(t)
	ctx := context.Background()
	super, admin, target := staff(ctx, t, f)
	l, err := f.sessions.Login(ctx, Credentials{Username: "admin1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	read := func(id uuid.UUID) (User, int64, error) {
		t.Helper()
		before := statements.Load()
		p, err := f.sessions.AuthenticateReading(ctx, l.Token, id)
		if err != nil {
			t.Fatal(err)
		}
		u, err := f.users.Get(ctx, p, id)
		return u, statements.Load() - before, err
	}
	if _, _, err := read(target.ID); err != nil { // writes the audit row of the hour
		t.Fatal(err)
	}
	for name, id := range map[string]uuid.UUID{"another user": target.ID, "the caller": admin.ID, "no such user": uuid.New()} {
		got, n, err := read(id)
		if n != 1 {
			t.Errorf("%s: the read ran %d statements, want 1", name, n)
		}
		want, wantErr := f.users.Get(ctx, Principal{User: admin}, id)
		if !reflect.DeepEqual(got, want) || ErrorCode(err) != ErrorCode(wantErr) {
			t.Errorf("%s: read with the session %+v (%v), alone %+v (%v)", name, got, err, want, wantErr)
		}
	}
	if err := f.users.SetActive(ctx, super, admin.ID, false); err != nil {
		t.Fatal(err)
	}
	_, err = f.sessions.AuthenticateReading(ctx, l.Token, target.ID)
	mustCode(t, err, CodeUnauthenticated)
}

// BenchmarkAuthenticatedRead is the domain's part of an admin's
// GET /users/{id}: the session lookup and the read of the user, on the
// real database, with no touch due and the read's audit row written.
func BenchmarkAuthenticatedRead(b *testing.B) {
	db := testDB(b)
	h := testHasher(b)
	users, sessions := NewUsers(db, h), NewSessions(db, h, 30*time.Minute, time.Now)
	ctx := context.Background()
	super, err := users.CreateSuperAdmin(ctx, NewUser{Username: "root1", Password: "password1"})
	if err != nil {
		b.Fatal(err)
	}
	target, err := users.Create(ctx, super, NewUser{Username: "user1", Password: "password1"})
	if err != nil {
		b.Fatal(err)
	}
	l, err := sessions.Login(ctx, Credentials{Username: "root1", Password: "password1"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := sessions.AuthenticateReading(ctx, l.Token, target.ID)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := users.Get(ctx, p, target.ID); err != nil {
			b.Fatal(err)
		}
	}
}
