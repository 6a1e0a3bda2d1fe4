package account

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accounts/internal/throttle"
)

// TestDeviceTokenTrust: a device token is trusted only for the user it
// was issued to, at the credential version it was issued under, within
// its lifetime, and with an intact signature from this Guard's key.
func TestDeviceTokenTrust(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	key := []byte(strings.Repeat("k", 32))
	limits := Limits{DeviceLifetime: 30 * 24 * time.Hour}
	g := NewGuard(throttle.New(f.db.Ent, key, 16, f.clock.now), limits, key)
	other := NewGuard(throttle.New(f.db.Ent, key, 16, f.clock.now), limits, []byte(strings.Repeat("o", 32)))
	for _, n := range []string{"alice1", "bobby1"} {
		if _, err := f.users.SignUp(ctx, NewUser{Username: n, Password: "password1"}); err != nil {
			t.Fatal(err)
		}
	}
	alice, _ := f.users.client.User.Query().Where(usernameFold("alice1")).Only(ctx)
	bob, _ := f.users.client.User.Query().Where(usernameFold("bobby1")).Only(ctx)
	token := g.NewDevice(alice.ID, alice.CredentialVersion)
	if !g.trusted(token, alice) {
		t.Fatal("a fresh token of alice is not trusted for alice")
	}
	tampered := token[:len(token)-2] + map[bool]string{true: "AA", false: "BA"}[strings.HasSuffix(token, "BA")]
	moved := *alice
	moved.CredentialVersion++
	for what, ok := range map[string]bool{
		"another user":        g.trusted(token, bob),
		"unknown user":        g.trusted(token, nil),
		"a newer version":     g.trusted(token, &moved),
		"another key":         other.trusted(token, alice),
		"a tampered MAC":      g.trusted(tampered, alice),
		"a token of format 1": g.trusted("v1."+strings.SplitN(token, ".", 2)[1], alice),
		"an issue time ahead": g.trusted(aheadToken(f, g, alice.ID, alice.CredentialVersion), alice),
	} {
		if ok {
			t.Errorf("a token was trusted for %s", what)
		}
	}
	f.clock.advance(30*24*time.Hour - time.Second)
	if !g.trusted(token, alice) {
		t.Fatal("a token was untrusted within its lifetime")
	}
	f.clock.advance(time.Second)
	if g.trusted(token, alice) {
		t.Fatal("a token was trusted at the end of its lifetime")
	}
}

// aheadToken is a token issued two minutes in g's future.
func aheadToken(f fixture, g *Guard, id uuid.UUID, version int64) string {
	f.clock.advance(2 * time.Minute)
	defer f.clock.advance(-2 * time.Minute)
	return g.NewDevice(id, version)
}

// TestSharedGuardKeyFromTheDatabase (issue 29, finding 6): Guards without
// a configured key take the one kept in the database, so two of them (two
// replicas) trust each other's device tokens; on a database that lacks the
// table yet (a release started before its migration) a login answers 503
// instead of the process failing to start, and works once it is there.
func TestSharedGuardKeyFromTheDatabase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.users.SignUp(ctx, NewUser{Username: "shared1", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	guard := func() *Guard {
		return NewSharedGuard(throttle.New(f.db.Ent, nil, 16, f.clock.now), Limits{DeviceLifetime: time.Hour}, f.db)
	}
	if _, err := f.db.Ent.ExecContext(ctx, "ALTER TABLE shared_keys RENAME TO shared_keys_later"); err != nil {
		t.Fatal(err)
	}
	one, two := guard(), guard()
	f.sessions.SetGuard(one)
	login := func() (Login, error) {
		return f.sessions.Login(ctx, Credentials{Username: "shared1", Password: "password1", From: Client{Address: "192.0.2.1"}})
	}
	_, err := login()
	mustCode(t, err, CodeServiceUnavailable)
	if _, err := f.db.Ent.ExecContext(ctx, "ALTER TABLE shared_keys_later RENAME TO shared_keys"); err != nil {
		t.Fatal(err)
	}
	l, err := login()
	if err != nil {
		t.Fatal(err)
	}
	if err := two.ready(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := f.db.Ent.User.Query().Where(usernameFold("shared1")).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !two.trusted(l.Device, u) {
		t.Fatal("a device token one Guard issued is not trusted by another on the same database")
	}
}
