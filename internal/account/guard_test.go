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
