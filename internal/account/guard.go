package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"accounts/ent"
	"accounts/ent/sharedkey"
	"accounts/internal/database"
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
	// PasswordFailuresPerSession is the budget of wrong current
	// passwords of one session's password changes; a session whose client
	// presents a trusted device token of its user gets PerDevice's Max
	// instead.
	PasswordFailuresPerSession throttle.Limit
	// VerificationsPerAccount and VerificationsPerAddress are the budgets
	// of every password verification, successful or not, of one user and
	// of one client address: the cost of hashing, which a right password
	// costs as much as a wrong one.
	VerificationsPerAccount throttle.Limit
	VerificationsPerAddress throttle.Limit
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
	// key signs device tokens and keys the store's buckets; every replica
	// must have the same one. Nil until loadKey has given it.
	key atomic.Pointer[[]byte]
	// loadKey gets the key from the database when the Guard was made
	// without one (NewSharedGuard).
	loadKey func(context.Context) ([]byte, error)
}

// NewGuard returns a Guard on store. key signs device tokens; the store
// is keyed with it too.
func NewGuard(store *throttle.Store, limits Limits, key []byte) *Guard {
	g := &Guard{store: store, limits: limits}
	g.setKey(key)
	return g
}

// NewSharedGuard returns a Guard on store keyed with the key every replica
// on db shares (SharedKey "device_key"). The key is read when first
// needed, not before: a database without the table yet (a release that
// started before its migration was applied) answers 503 until it has it.
func NewSharedGuard(store *throttle.Store, limits Limits, db *database.DB) *Guard {
	return &Guard{store: store, limits: limits, loadKey: func(ctx context.Context) ([]byte, error) {
		return SharedKey(ctx, db, "device_key")
	}}
}

func (g *Guard) setKey(key []byte) {
	g.store.SetSecret(key)
	g.key.Store(&key)
}

// ready makes sure the Guard has its key before an attempt computes its
// keys or checks a device token.
func (g *Guard) ready(ctx context.Context) error {
	if g == nil || g.key.Load() != nil {
		return nil
	}
	key, err := g.loadKey(ctx)
	if err != nil {
		return &Error{Code: CodeServiceUnavailable, Message: "the server cannot read its keys yet; try again shortly",
			RetryAfter: time.Second, cause: err}
	}
	g.setKey(key)
	return nil
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
	m := hmac.New(sha256.New, *g.key.Load())
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

// verificationKeys are the budgets that pay for the password
// verification of a login as username, the user u (nil: no such user),
// successful or not: the address's and the account's, which for a name
// that does not exist is its bucket's, as in loginKeys.
func (g *Guard) verificationKeys(c Client, username string, u *ent.User) []throttle.Key {
	if g == nil {
		return nil
	}
	account := g.store.BucketKey("w", strings.ToLower(username), g.limits.VerificationsPerAccount)
	if u != nil {
		account = throttle.VerificationsKey(u.ID, g.limits.VerificationsPerAccount)
	}
	return []throttle.Key{g.store.BucketKey("h", c.Address, g.limits.VerificationsPerAddress), account}
}

// changeKeys are the budgets a password change in session draws on: the
// session's own budget of wrong current passwords, which no one without
// the session can spend (the size of a trusted device's when c presents a
// device token of u), and the account's verifications, of which strangers'
// failed logins spend no more than their own budgets allow
// (config.Auth.VerificationsPerAccount must leave room). Never the name's
// or the address's budgets: anyone can spend those.
func (g *Guard) changeKeys(c Client, session uuid.UUID, u *ent.User) (failures, paid []throttle.Key) {
	if g == nil {
		return nil, nil
	}
	limit := g.limits.PasswordFailuresPerSession
	if limit.Max > 0 && g.trusted(c.Device, u) {
		// 0 disables the budget for every session, trusted or not.
		limit.Max = g.limits.PerDevice.Max
	}
	return []throttle.Key{throttle.SessionKey(session, limit)},
		[]throttle.Key{throttle.VerificationsKey(u.ID, g.limits.VerificationsPerAccount)}
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

// settle gives back what an attempt reserved that does not count, by its
// outcome err: a failure (a wrong password) keeps everything, a success
// gives back the failure budgets' keys and keeps the verification's paid,
// and an attempt that verified nothing (the hasher busy, the client gone)
// gives back both.
func (g *Guard) settle(ctx context.Context, err error, keys, paid []throttle.Key) {
	switch ErrorCode(err) {
	case CodeInvalidCredentials, CodeWrongPassword:
	case "":
		g.release(ctx, keys)
	default:
		g.release(ctx, append(slices.Clone(keys), paid...))
	}
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
	if err := g.ready(ctx); g == nil || err != nil {
		return err
	}
	return g.reserve(ctx, []throttle.Key{g.store.BucketKey("s", address, g.limits.SignUpsPerAddress)},
		"too many sign-ups from this address; try again later")
}

// sharedKeyBytes is the length of a key SharedKey draws: 256 bits.
const sharedKeyBytes = 32

// SharedKey returns the key named name that every replica on db has
// alike: the one kept in the database, or, the first time, a random one
// it keeps there now. Of replicas starting at once the first insert wins
// and every one reads that key.
func SharedKey(ctx context.Context, db *database.DB, name string) ([]byte, error) {
	fresh := make([]byte, sharedKeyBytes)
	_, _ = rand.Read(fresh) // crypto/rand.Read never fails on supported platforms.
	if _, err := db.Ent.ExecContext(ctx, insertSharedKeySQL, name, fresh); err != nil {
		return nil, storageError(err, "")
	}
	k, err := db.Ent.SharedKey.Get(ctx, name)
	if err != nil {
		return nil, storageError(err, "")
	}
	return k.Key, nil
}

var insertSharedKeySQL = fmt.Sprintf(`INSERT INTO %s (%s, %s) VALUES ($1, $2) ON CONFLICT (%[2]s) DO NOTHING`,
	sharedkey.Table, sharedkey.FieldID, sharedkey.FieldKey)

// Purge deletes up to batch counters whose windows have passed.
func (g *Guard) Purge(ctx context.Context, now time.Time, batch int) (int, error) {
	if g == nil {
		return 0, nil
	}
	l := g.limits
	longest := max(l.PerUsername.Window, l.PerAddress.Window, l.PerDevice.Window, l.SignUpsPerAddress.Window,
		l.PasswordFailuresPerSession.Window, l.VerificationsPerAccount.Window, l.VerificationsPerAddress.Window)
	n, err := g.store.Purge(ctx, now.Add(-longest), batch)
	return n, storageError(err, "")
}
