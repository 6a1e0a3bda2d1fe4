package account

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/google/uuid"

	"accounts/ent"
	"accounts/internal/throttle"
)

// Client is who makes an attempt: its address (the throttle key of the
// client's IP, from the HTTP layer) and the device token it presented, if
// any.
type Client struct {
	Address string
	Device  string
	// UserAgent labels a session the request opens (ShortUserAgent); the
	// throttle never reads it.
	UserAgent string
}

// Limits are the budgets of the Guard. A Max of 0 disables a budget.
type Limits struct {
	// PerUsername is the budget of failed logins that untrusted clients
	// (no valid device token for the user) share for one user.
	PerUsername throttle.Limit
	// PerAddress is the budget of failed logins of one client address.
	PerAddress throttle.Limit
	// PerDevice is the budget of failed logins that all of one user's
	// trusted devices share: however many tokens a client holds, they buy
	// this many guesses per window, no more.
	PerDevice throttle.Limit
	// SignUpsPerAddress is the budget of sign-ups of one client address.
	SignUpsPerAddress throttle.Limit
	// DeviceLifetime is how long after its login a device token is
	// trusted.
	DeviceLifetime time.Duration
}

// Guard throttles logins as OWASP's "Slow Down Online Guessing Attacks
// with Device Cookies" describes: a client that logged in as a user before
// holds a signed device token for that user and draws only on the budget
// the user's trusted devices share, so other clients' failures never lock
// it out; every other client draws on the user's shared untrusted budget
// and on its address's budget. A device token names the user's id and
// the credential version it was issued under, so a password set or
// change, a deactivation or a revocation (each moves the version) ends
// the trust of every token issued before. Attempts are reserved before
// the password is hashed and given back after a success. The budgets live
// in PostgreSQL (package throttle).
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

// devicePrefix starts every device token of the current format; tokens of
// the first one (a name and a random id, without the credential version)
// are no longer trusted.
const devicePrefix = "v2."

// deviceSkew is how far in the future a token's issue time may lie, for
// replicas whose clocks differ a little.
const deviceSkew = time.Minute

// NewDevice returns a fresh device token for the user id at credential
// version: "v2.", then base64url of the id, the version and the issue
// time (Unix seconds), then base64url of their HMAC.
func (g *Guard) NewDevice(id uuid.UUID, version int64) string {
	if g == nil {
		return ""
	}
	payload := make([]byte, 0, 32)
	payload = append(payload, id[:]...)
	payload = binary.BigEndian.AppendUint64(payload, uint64(version))
	payload = binary.BigEndian.AppendUint64(payload, uint64(g.store.Now().Unix()))
	body := devicePrefix + base64.RawURLEncoding.EncodeToString(payload)
	return body + "." + base64.RawURLEncoding.EncodeToString(g.sign(body))
}

func (g *Guard) sign(body string) []byte {
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// trusted reports whether token is a valid device token of u at its
// current credential version, issued less than DeviceLifetime ago.
func (g *Guard) trusted(token string, u *ent.User) bool {
	if u == nil || token == "" || len(token) > deviceTokenMax || !strings.HasPrefix(token, devicePrefix) {
		return false
	}
	i := strings.LastIndexByte(token, '.')
	body := token[:i]
	mac, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil || !hmac.Equal(mac, g.sign(body)) {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(body[len(devicePrefix):])
	if err != nil || len(payload) != 32 {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(payload[24:])), 0)
	now := g.store.Now()
	return uuid.UUID(payload[:16]) == u.ID &&
		int64(binary.BigEndian.Uint64(payload[16:24])) == u.CredentialVersion &&
		!issued.After(now.Add(deviceSkew)) && now.Before(issued.Add(g.limits.DeviceLifetime))
}

// loginKeys are the budgets a login attempt as username, the user u (nil:
// no such user), draws on: the budget of u's trusted devices when the
// client presents a device token of u, or else the address's and the
// name's untrusted budget. A name that exists has its user's; one that
// does not has the same budget in the bucket its folded name falls into,
// so the throttle answers alike for both and tells no one which names
// exist.
func (g *Guard) loginKeys(c Client, username string, u *ent.User) []throttle.Key {
	if g == nil {
		return nil
	}
	if g.trusted(c.Device, u) {
		return []throttle.Key{throttle.DevicesKey(u.ID, g.limits.PerDevice)}
	}
	name := g.store.BucketKey("n", strings.ToLower(username), g.limits.PerUsername)
	if u != nil {
		name = throttle.UserKey(u.ID, g.limits.PerUsername)
	}
	return []throttle.Key{g.store.BucketKey("a", c.Address, g.limits.PerAddress), name}
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
