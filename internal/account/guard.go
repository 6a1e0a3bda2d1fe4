package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"

	"accounts/internal/throttle"
)

// Client is who makes an attempt: its address (the throttle key of the
// client's IP, from the HTTP layer) and the device token it presented, if
// any.
type Client struct {
	Address string
	Device  string
}

// Limits are the budgets of the Guard. A Max of 0 disables a budget.
type Limits struct {
	// PerUsername is the budget of failed logins that untrusted clients
	// (no valid device token for the name) share for one user.
	PerUsername throttle.Limit
	// PerAddress is the budget of failed logins of one client address.
	PerAddress throttle.Limit
	// PerDevice is the budget of failed logins of one trusted device.
	PerDevice throttle.Limit
	// SignUpsPerAddress is the budget of sign-ups of one client address.
	SignUpsPerAddress throttle.Limit
}

// Guard throttles logins as OWASP's "Slow Down Online Guessing Attacks
// with Device Cookies" describes: a client that logged in as a user before
// holds a signed device token for that name and draws only on its own
// budget, so other clients' failures never lock it out; every other client
// draws on the user's shared untrusted budget and on its address's budget.
// Attempts are reserved before the password is hashed and given back after
// a success. The budgets live in PostgreSQL (package throttle).
type Guard struct {
	store  *throttle.Store
	limits Limits
	// key signs device tokens; every replica must have the same one.
	key []byte
}

// NewGuard returns a Guard on store. key signs device tokens.
func NewGuard(store *throttle.Store, limits Limits, key []byte) *Guard {
	return &Guard{store: store, limits: limits, key: key}
}

// deviceTokenMax bounds what is parsed of a presented device token.
const deviceTokenMax = 160

// NewDevice returns a fresh device token for username: "v1.", the
// lower-cased name and a random device id, base64url, and their HMAC.
func (g *Guard) NewDevice(username string) string {
	if g == nil {
		return ""
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id) // crypto/rand.Read never fails on supported platforms.
	body := "v1." + base64.RawURLEncoding.EncodeToString([]byte(strings.ToLower(username))) + "." +
		base64.RawURLEncoding.EncodeToString(id)
	return body + "." + base64.RawURLEncoding.EncodeToString(g.sign(body))
}

func (g *Guard) sign(body string) []byte {
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// device returns the device id of token when it is a valid token for
// username.
func (g *Guard) device(token, username string) (string, bool) {
	if token == "" || len(token) > deviceTokenMax {
		return "", false
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", false
	}
	body := token[:i]
	mac, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil || !hmac.Equal(mac, g.sign(body)) {
		return "", false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return "", false
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || string(name) != strings.ToLower(username) {
		return "", false
	}
	return parts[2], true
}

// loginKeys are the budgets a login attempt draws on: a trusted device's
// own, or else the user's shared untrusted budget (when the name exists)
// and the address's.
func (g *Guard) loginKeys(c Client, username string, user uuid.UUID) []throttle.Key {
	if g == nil {
		return nil
	}
	if id, ok := g.device(c.Device, username); ok {
		return []throttle.Key{g.store.BucketKey("d", id, g.limits.PerDevice)}
	}
	keys := []throttle.Key{g.store.BucketKey("a", c.Address, g.limits.PerAddress)}
	if user != uuid.Nil {
		keys = append(keys, throttle.UserKey(user, g.limits.PerUsername))
	}
	return keys
}

// reserve takes one attempt from each of keys, or answers
// too_many_attempts with how long to wait.
func (g *Guard) reserve(ctx context.Context, keys []throttle.Key, msg string) error {
	if g == nil || len(keys) == 0 {
		return nil
	}
	wait, err := g.store.Reserve(ctx, keys...)
	if err != nil {
		return storageError(err, "")
	}
	if wait > 0 {
		return &Error{Code: CodeTooManyAttempts, Message: msg, RetryAfter: wait}
	}
	return nil
}

// release gives back the attempts of an attempt that did not fail. The
// budget errs on the safe side if it cannot: the error is dropped, as the
// attempt itself succeeded.
func (g *Guard) release(ctx context.Context, keys []throttle.Key) {
	if g == nil || len(keys) == 0 {
		return
	}
	_ = g.store.Release(context.WithoutCancel(ctx), keys...)
}

// ReserveSignUp takes one sign-up from the budget of address; every
// sign-up counts, a taken name included, so the 409 that says a name
// exists answers at most that many guesses per address.
func (g *Guard) ReserveSignUp(ctx context.Context, address string) error {
	if g == nil {
		return nil
	}
	return g.reserve(ctx, []throttle.Key{g.store.BucketKey("s", address, g.limits.SignUpsPerAddress)},
		"too many sign-ups from this address; try again later")
}

// Purge deletes up to batch counters whose windows have passed.
func (g *Guard) Purge(ctx context.Context, now time.Time, batch int) (int, error) {
	if g == nil {
		return 0, nil
	}
	longest := max(g.limits.PerUsername.Window, g.limits.PerAddress.Window, g.limits.PerDevice.Window, g.limits.SignUpsPerAddress.Window)
	n, err := g.store.Purge(ctx, now.Add(-longest), batch)
	return n, storageError(err, "")
}
