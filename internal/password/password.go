// Package password hashes and verifies passwords with argon2id
// (golang.org/x/crypto/argon2) and a server-side pepper, stores them in the
// PHC string format, and bounds how many hashes run at once so that a
// burst of logins cannot exhaust memory: each running hash holds its
// memory parameter (argon2.IDKey allocates it per call), so at most
// MaxConcurrent times it is live at once. The slots are shared fairly
// among principals (WithPrincipal): one client cannot hold them all. What a finished hash leaves on
// the heap is garbage for the collector; the process's soft memory limit
// (runtime.memory_limit_mib) makes the collector take it back before the
// heap grows past the limit.
package password

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters. They are written into every
// hash, so changing them later does not break existing hashes: a login with
// a hash made under other parameters reports that it needs a rehash.
type Params struct {
	// Time is the number of passes over the memory.
	Time uint32
	// MemoryKiB is the memory used by one hash, in KiB.
	MemoryKiB uint32
	// Threads is the number of lanes.
	Threads uint8
}

// Options configure a Hasher.
type Options struct {
	// Params are the cost parameters of new hashes.
	Params Params
	// Pepper is the server-side secret: the password is first passed
	// through HMAC-SHA256 keyed with it, so a stolen table alone does not
	// allow offline guessing. Empty means no pepper.
	Pepper []byte
	// MaxConcurrent is how many hashes may run at once (at least 1).
	MaxConcurrent int
	// MaxWait is the longest wait for a free slot before ErrBusy.
	MaxWait time.Duration
	// OnBusy, when set, is called each time a caller gives up with ErrBusy
	// (for a metric).
	OnBusy func()
}

// ErrBusy is returned when no hashing slot became free within MaxWait. The
// caller should answer "try again later" rather than queue without limit.
var ErrBusy = errors.New("password hashing is saturated")

// KeyMismatchError is returned by Verify for a hash made with another
// pepper than the Hasher's: no password can match it here. It names both
// by key id, never the peppers.
type KeyMismatchError struct {
	// Stored is the key id in the hash; Current is the Hasher's ("" for
	// no pepper).
	Stored, Current string
}

// Error implements error.
func (e *KeyMismatchError) Error() string {
	current := "none (no pepper)"
	if e.Current != "" {
		current = e.Current
	}
	return fmt.Sprintf("password: the hash was made with the pepper of key id %s, this hasher's key id is %s", e.Stored, current)
}

// ErrMalformedHash is returned by Verify for a stored value that is not an
// argon2id PHC string this package can read.
var ErrMalformedHash = errors.New("stored password hash is malformed")

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params Params
	pepper []byte
	// keyID names the pepper in the hashes made with it ("" without one).
	keyID string
	// fingerprintKey keys Fingerprint: derived from the pepper, so that
	// it is never the pepper itself.
	fingerprintKey []byte
	// slots are the hashing slots, shared fairly among principals.
	slots   *slots
	maxWait time.Duration
	onBusy  func()
	// dummy is a real hash of a random password, verified against when a
	// login names an unknown user, so that such a login costs as much time
	// as one with a wrong password and does not reveal which names exist.
	dummy string
}

// New returns a Hasher. It computes one hash up front (the dummy used for
// unknown users), so it takes as long as one hash.
func New(opts Options) (*Hasher, error) {
	p := opts.Params
	if p.Time < 1 || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads) {
		return nil, fmt.Errorf("password: invalid argon2id parameters t=%d m=%d p=%d", p.Time, p.MemoryKiB, p.Threads)
	}
	if opts.MaxConcurrent < 1 {
		return nil, fmt.Errorf("password: MaxConcurrent must be at least 1, got %d", opts.MaxConcurrent)
	}
	h := &Hasher{
		params:  p,
		pepper:  append([]byte(nil), opts.Pepper...),
		slots:   newSlots(opts.MaxConcurrent),
		maxWait: opts.MaxWait,
		onBusy:  opts.OnBusy,
		keyID:   KeyID(opts.Pepper),
	}
	m := hmac.New(sha256.New, opts.Pepper)
	m.Write([]byte("accounts request fingerprint v1"))
	h.fingerprintKey = m.Sum(nil)
	random := make([]byte, 32)
	_, _ = rand.Read(random) // crypto/rand.Read never fails on supported platforms.
	h.dummy = h.encode(p, newSalt(), h.key(p, string(random), nil))
	return h, nil
}

// keyIDLen is the length of a key id in bytes: the PHC string format's
// keyid parameter of argon2 holds up to 8.
const keyIDLen = 6

// KeyID is the key id of pepper as hashes carry it ("" for no pepper): the
// first bytes of an HMAC of a fixed text keyed with the pepper, base64, so
// it tells peppers apart without telling anything of them.
func KeyID(pepper []byte) string {
	if len(pepper) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("accounts password pepper key id"))
	return b64.EncodeToString(m.Sum(nil)[:keyIDLen])
}

// Fingerprint returns an HMAC-SHA256 of data keyed with a key derived
// from the pepper: a digest of a request that holds a password, which a
// stolen table alone cannot test guesses against. Without a pepper the key
// is fixed, and the digest hides no more than SHA-256 does.
func (h *Hasher) Fingerprint(data []byte) []byte {
	m := hmac.New(sha256.New, h.fingerprintKey)
	m.Write(data)
	return m.Sum(nil)
}

// KeyID returns the key id of the Hasher's pepper ("" without one).
func (h *Hasher) KeyID() string { return h.keyID }

// HashKeyID returns the key id an encoded hash carries: "" for a hash
// made without a pepper or before hashes carried one, or one that is
// malformed.
func HashKeyID(encoded string) string {
	k, _ := decode(encoded)
	return k.keyID
}

// RetryAfter is how long a caller that got ErrBusy should wait before
// trying again: about one slot wait.
func (h *Hasher) RetryAfter() time.Duration {
	return max(h.maxWait, time.Second)
}

// InUse returns how many hashes are running now.
func (h *Hasher) InUse() int { return h.slots.used() }

// Capacity returns how many hashes may run at once.
func (h *Hasher) Capacity() int { return h.slots.capacity }

// Hash returns the PHC string of password under the current parameters,
// with the key id of the pepper.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release(ctx)
	salt := newSalt()
	return h.encode(h.params, salt, h.key(h.params, password, salt)), nil
}

// Verify reports whether password matches the stored PHC string, and
// whether the stored hash should be replaced by a fresh Hash: it was made
// under parameters other than the current ones, or carries no key id
// while the Hasher has a pepper (a hash of a build before key ids). A
// hash whose key id is not the Hasher's is a *KeyMismatchError, after the
// work of a verification, so that it answers as late as a wrong password.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	d, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release(ctx)
	got := h.key(d.params, password, d.salt)
	if d.keyID != "" && d.keyID != h.keyID {
		return false, false, &KeyMismatchError{Stored: d.keyID, Current: h.keyID}
	}
	// want's length comes from the stored string; ConstantTimeCompare
	// returns 0 for a different length without comparing.
	ok = subtle.ConstantTimeCompare(got, d.key) == 1
	stale := d.params != h.params || len(d.salt) != saltLen || len(d.key) != keyLen || d.keyID != h.keyID
	return ok, ok && stale, nil
}

// VerifyDummy spends the time of one Verify and always reports false. It is
// used when the user does not exist, so that the answer takes as long as
// for an existing user with a wrong password.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// acquire waits for a hashing slot for the principal of ctx for at most
// maxWait. The caller gives it back with release, with the same ctx.
func (h *Hasher) acquire(ctx context.Context) error {
	ok, err := h.slots.acquire(ctx, h.maxWait)
	switch {
	case err != nil:
		return err
	case !ok:
		if h.onBusy != nil {
			h.onBusy()
		}
		return ErrBusy
	}
	return nil
}

func (h *Hasher) release(ctx context.Context) { h.slots.release(principalOf(ctx)) }

// key derives the argon2id key. The password is peppered through HMAC
// rather than concatenated, so the pepper's length and content cannot
// interact with the password's.
func (h *Hasher) key(p Params, password string, salt []byte) []byte {
	input := []byte(password)
	if len(h.pepper) > 0 {
		mac := hmac.New(sha256.New, h.pepper)
		mac.Write(input)
		input = mac.Sum(nil)
	}
	return argon2.IDKey(input, salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
}

func newSalt() []byte {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	return salt
}

var b64 = base64.RawStdEncoding

// encode writes the PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash,
// with ",keyid=…" after p when the Hasher has a pepper (the parameter the
// PHC string format defines for argon2).
func (h *Hasher) encode(p Params, salt, key []byte) string {
	keyID := ""
	if h.keyID != "" {
		keyID = ",keyid=" + h.keyID
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d%s$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, keyID, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decoded is a parsed PHC string.
type decoded struct {
	params    Params
	keyID     string
	salt, key []byte
}

// decode parses a PHC string written by encode (or by another argon2id
// implementation using the same format).
func decode(s string) (decoded, error) {
	var d decoded
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return d, ErrMalformedHash
	}
	if err := d.parseParams(parts[3]); err != nil {
		return d, err
	}
	var err error
	if d.salt, err = b64.DecodeString(parts[4]); err != nil || len(d.salt) < 8 {
		return d, ErrMalformedHash
	}
	if d.key, err = b64.DecodeString(parts[5]); err != nil || len(d.key) < 16 {
		return d, ErrMalformedHash
	}
	return d, nil
}

// parseParams parses m, t, p and the optional keyid of a PHC string.
func (d *decoded) parseParams(s string) error {
	p := &d.params
	seen := 0
	for _, kv := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return ErrMalformedHash
		}
		if name == "keyid" {
			if k, err := b64.DecodeString(value); err != nil || len(k) == 0 || len(k) > 8 || d.keyID != "" {
				return ErrMalformedHash
			}
			d.keyID = value
			continue
		}
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return ErrMalformedHash
		}
		switch name {
		case "m":
			p.MemoryKiB = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return ErrMalformedHash
			}
			p.Threads = uint8(n)
		default:
			return ErrMalformedHash
		}
		seen++
	}
	// Bounds keep a corrupted or hostile row from making one verification
	// allocate more than 4 GiB or spin for minutes.
	if seen != 3 || p.Time < 1 || p.Time > 100 || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20 {
		return ErrMalformedHash
	}
	return nil
}
