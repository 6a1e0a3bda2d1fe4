// Package throttle keeps attempt budgets (failed logins, sign-ups) in
// PostgreSQL, so that every replica of the service draws on the same
// budget. A budget allows Max attempts per fixed Window; an attempt is
// reserved before the work it guards (a password hash) and given back when
// it turns out not to count (a successful login), so parallel requests
// cannot all pass a check made before any of them was counted.
//
// The state is bounded whatever clients send: a key is either a user id
// (three per existing user: its untrusted budget, its trusted devices' and
// its verifications'), a session id (its password-change budget, one per
// session, and sessions per user are capped) or one of Buckets buckets
// that client-chosen values (addresses, names) are hashed into with a
// secret key, so the table holds at most 3 × users + sessions +
// kinds × Buckets rows, each under 100 bytes.
package throttle

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"accounts/ent"
	"accounts/ent/throttlecounter"
	"accounts/internal/database"
)

// Limit is a budget of Max attempts per Window; Max <= 0 means unlimited.
type Limit struct {
	Max    int
	Window time.Duration
}

// Key names one budget and its limit.
type Key struct {
	ID    string
	Limit Limit
}

// Store holds the counters. It is safe for concurrent use.
type Store struct {
	client *ent.Client
	// secret keys BucketKey; SetSecret may set it after New.
	secret  atomic.Pointer[[]byte]
	buckets uint32
	now     func() time.Time

	// spent remembers the budgets found spent lately (spentMemo).
	mu    sync.Mutex
	spent map[string]spentBudget
}

// spentMemo is how long a Store remembers a budget it found spent: a client
// that keeps trying while told to wait is answered from memory for that
// long, without a statement per budget, so a flood of refused attempts
// costs the database little. A budget cleared by another process (users
// unthrottle) counts again after it at the latest; one given back here
// (Release) at once.
const spentMemo = time.Second

// spentMemoMax bounds the budgets remembered; past it the Store forgets
// them all, which costs statements, never a wrong answer.
const spentMemoMax = 1 << 16

type spentBudget struct {
	// until is when the memory lapses; windowEnd when the budget has room.
	until, windowEnd time.Time
}

// New returns a Store on client. secret keys the hash that maps values to
// buckets (so an attacker cannot aim two values at one bucket); buckets is
// how many buckets each kind of value has (at least 1); now is the clock.
func New(client *ent.Client, secret []byte, buckets int, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	s := &Store{client: client, buckets: uint32(max(buckets, 1)), now: now, spent: map[string]spentBudget{}}
	s.SetSecret(secret)
	return s
}

// SetSecret sets the secret BucketKey hashes with, for a Store made before
// the secret was at hand; it must be set before BucketKey is called.
func (s *Store) SetSecret(secret []byte) { s.secret.Store(&secret) }

// UserKey is the budget of one user: its id, so only existing users have
// one.
func UserKey(id uuid.UUID, l Limit) Key {
	return Key{ID: "u:" + id.String(), Limit: l}
}

// DevicesKey is the budget that all trusted devices of one user share.
func DevicesKey(id uuid.UUID, l Limit) Key {
	return Key{ID: "t:" + id.String(), Limit: l}
}

// VerificationsKey is the budget of every password verification of one
// user, successful or not.
func VerificationsKey(id uuid.UUID, l Limit) Key {
	return Key{ID: "v:" + id.String(), Limit: l}
}

// SessionKey is the budget of one session: the wrong current passwords of
// its password changes.
func SessionKey(id uuid.UUID, l Limit) Key {
	return Key{ID: "p:" + id.String(), Limit: l}
}

// ClearUser deletes the user's counters (UserKey, DevicesKey and
// VerificationsKey), through c so that a caller can do it in the
// transaction of the change that calls for it, and returns how many there
// were: every budget of the user is full again.
func ClearUser(ctx context.Context, c *ent.ThrottleCounterClient, id uuid.UUID) (int, error) {
	return c.Delete().Where(throttlecounter.IDIn("u:"+id.String(), "t:"+id.String(), "v:"+id.String())).Exec(ctx)
}

// Now is the Store's clock.
func (s *Store) Now() time.Time { return s.now() }

// BucketKey is the budget of the bucket value falls into among the buckets
// of kind (a short tag such as "a" for login addresses).
func (s *Store) BucketKey(kind, value string, l Limit) Key {
	m := hmac.New(sha256.New, *s.secret.Load())
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	b := binary.BigEndian.Uint32(m.Sum(nil)) % s.buckets
	return Key{ID: kind + ":" + strconv.FormatUint(uint64(b), 10), Limit: l}
}

// reserveSQL takes one attempt from a key's budget in one statement: it
// starts a new window when the old one has passed, and otherwise counts
// the attempt only while the budget has room, so concurrent reservations
// on every replica are serialized by the row lock of the upsert. No row
// comes back when the budget is spent.
var reserveSQL = fmt.Sprintf(`INSERT INTO %[1]s AS t (%[2]s, %[3]s, %[4]s) VALUES ($1, $2, 1)
ON CONFLICT (%[2]s) DO UPDATE SET
  %[3]s = CASE WHEN t.%[3]s <= $3 THEN excluded.%[3]s ELSE t.%[3]s END,
  %[4]s = CASE WHEN t.%[3]s <= $3 THEN 1 ELSE t.%[4]s + 1 END
WHERE t.%[3]s <= $3 OR t.%[4]s < $4
RETURNING %[4]s, %[3]s`, throttlecounter.Table, throttlecounter.FieldID, throttlecounter.FieldWindowStart, throttlecounter.FieldHits)

// Reserve takes one attempt from each key's budget. It returns zero when
// the attempt may go on, and otherwise how long until the spent budget
// has room again; then no budget is charged.
func (s *Store) Reserve(ctx context.Context, keys ...Key) (time.Duration, error) {
	now := s.now()
	if k, wait, ok := s.recall(keys, now); ok {
		reportOf(ctx).add(Decision{Key: k, Reset: wait})
		return wait, nil
	}
	var taken []Key
	for _, k := range keys {
		if k.Limit.Max <= 0 {
			continue
		}
		d, ok, err := s.reserve(ctx, k, now)
		if err != nil {
			_ = s.Release(ctx, taken...)
			return 0, err
		}
		if !ok {
			// Give back what this attempt took from the other budgets: it
			// does not happen.
			if err := s.Release(ctx, taken...); err != nil {
				return 0, err
			}
			wait, err := s.wait(ctx, k, now)
			reportOf(ctx).add(Decision{Key: k, Reset: wait})
			return wait, err
		}
		reportOf(ctx).add(d)
		taken = append(taken, k)
	}
	return 0, nil
}

// reserve takes one attempt from k's budget, and says what is left of it.
func (s *Store) reserve(ctx context.Context, k Key, now time.Time) (Decision, bool, error) {
	rows, err := s.client.QueryContext(ctx, reserveSQL, k.ID, now, now.Add(-k.Limit.Window), k.Limit.Max)
	if err != nil {
		return Decision{}, false, err
	}
	var hits int
	var start time.Time
	ok := rows.Next()
	if ok {
		err = rows.Scan(&hits, &start)
	}
	// Close reports an error of the statement after its row, if any.
	if err = errors.Join(err, rows.Err(), rows.Close()); err != nil || !ok {
		return Decision{}, false, err
	}
	return Decision{Key: k, Remaining: max(k.Limit.Max-hits, 0), Reset: start.Add(k.Limit.Window).Sub(now)}, true, nil
}

// wait is how long until k's window ends, at least a second; k is
// remembered as spent until then, for spentMemo at most.
func (s *Store) wait(ctx context.Context, k Key, now time.Time) (time.Duration, error) {
	c, err := s.client.ThrottleCounter.Get(ctx, k.ID)
	if ent.IsNotFound(err) {
		return time.Second, nil
	}
	if err != nil {
		return 0, err
	}
	end := c.WindowStart.Add(k.Limit.Window)
	s.mu.Lock()
	if len(s.spent) >= spentMemoMax {
		clear(s.spent)
	}
	s.spent[k.ID] = spentBudget{until: now.Add(min(spentMemo, end.Sub(now))), windowEnd: end}
	s.mu.Unlock()
	return max(end.Sub(now), time.Second), nil
}

// recall reports which of keys is remembered as spent, and how long to
// wait for it.
func (s *Store) recall(keys []Key, now time.Time) (Key, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if b, ok := s.spent[k.ID]; ok && k.Limit.Max > 0 && now.Before(b.until) {
			return k, max(b.windowEnd.Sub(now), time.Second), true
		}
	}
	return Key{}, 0, false
}

// Release gives one attempt back to each key's budget, within the current
// window: the attempt turned out not to count (a login that succeeded).
func (s *Store) Release(ctx context.Context, keys ...Key) error {
	now := s.now()
	for _, k := range keys {
		if k.Limit.Max <= 0 {
			continue
		}
		s.mu.Lock()
		delete(s.spent, k.ID)
		s.mu.Unlock()
		n, err := s.client.ThrottleCounter.Update().
			Where(throttlecounter.ID(k.ID), throttlecounter.HitsGT(0),
				throttlecounter.WindowStartGT(now.Add(-k.Limit.Window))).
			AddHits(-1).
			Save(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			reportOf(ctx).released(k)
		}
	}
	return nil
}

// Purge deletes up to batch counters whose window started before cutoff
// (now minus the longest window in use) and returns how many it deleted.
// Rows another purge holds are skipped, so replicas purging at once do not
// wait on each other.
func (s *Store) Purge(ctx context.Context, cutoff time.Time, batch int) (int, error) {
	return s.client.ThrottleCounter.Delete().
		Where(database.PurgeBatch(throttlecounter.Table, throttlecounter.FieldID, entsql.LT(throttlecounter.FieldWindowStart, cutoff), batch)).
		Exec(ctx)
}
