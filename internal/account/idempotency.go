package account

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"accounts/ent"
	"accounts/ent/idempotencykey"
	"accounts/ent/schema"
	"accounts/internal/database"
)

// The idempotency store keeps the first answer to a create sent with an
// Idempotency-Key (the IETF httpapi idempotency-key draft), so that a
// client that lost the answer can send the request again and get it,
// instead of a second create or a 409. The key's row is inserted in the
// transaction of the create, before the user, so two requests with one key
// at once are serialized by the unique index: the second waits for the
// first to commit and then replays its answer (or, if the first rolled
// back, creates in its place). An answer is stored exactly when its create
// committed; a failed create stores nothing and a retry runs again.

// IdempotencyRetention is how long an answer is replayed; after it the key
// may be used again as a new one.
const IdempotencyRetention = 24 * time.Hour

// MaxIdempotencyKeys is how many keys one caller keeps: storing one more
// forgets the caller's oldest, so no caller grows the table without bound.
const MaxIdempotencyKeys = 1000

// Answer is an HTTP answer as stored under an idempotency key: what a
// retry gets back, byte for byte.
type Answer struct {
	Status int
	Header map[string]string
	Body   []byte
}

// OnceCreate is a create made at most once for its key: a sign-up (Caller
// nil) or an admin's create.
type OnceCreate struct {
	Caller *User
	New    NewUser
	// Scope is whom the key belongs to: keys of different callers never
	// meet. The HTTP layer names the user, or the client address of a
	// sign-up.
	Scope string
	// Key is the client's Idempotency-Key.
	Key string
	// Render is the answer to a create of u: stored with it, and what the
	// first request and every retry answer.
	Render func(u User) (Answer, error)
}

// SetClock sets the clock the idempotency store dates its answers by and
// the admin reads' audit window is measured with (time.Now unless set); it
// must be the one the sessions use.
func (s *Users) SetClock(now func() time.Time) { s.now = now }

// CreateOnce signs up or creates a user unless c.Key was used by the same
// caller within IdempotencyRetention: then it returns that first answer
// when the body is the same, and idempotency_key_reused when it is not.
// The body is compared by a keyed digest (password.Hasher.Fingerprint);
// the store never holds it.
func (s *Users) CreateOnce(ctx context.Context, c OnceCreate) (Answer, error) {
	op := "create"
	if c.Caller == nil {
		op = "signup"
	}
	raw, err := json.Marshal(struct {
		Op   string  `json:"op"`
		Body NewUser `json:"body"`
	}{op, c.New})
	if err != nil {
		return Answer{}, err
	}
	claim := &onceClaim{OnceCreate: c, fingerprint: s.hasher.Fingerprint(raw), now: s.now(), keep: s.maxKeys}
	// A retry, the common case, costs one read and no hash.
	if a, found, err := claim.stored(ctx, s.client); err != nil || found {
		return a, err
	}
	if err := prepareCreate(c.Caller, &c.New); err != nil {
		return Answer{}, err
	}
	if _, err := s.create(ctx, c.New, c.Caller, false, claim); err != nil {
		return Answer{}, err
	}
	return claim.answer, nil
}

// onceClaim is a key being used: create takes it in its transaction.
type onceClaim struct {
	OnceCreate
	fingerprint []byte
	now         time.Time
	// keep is how many keys the caller keeps.
	keep int
	// answer is the answer: the one this request stored, or the one of
	// the earlier request that take lost to.
	answer Answer
}

// stored returns the live answer under the key, if any; a body that is
// not the one of the answer is idempotency_key_reused.
func (o *onceClaim) stored(ctx context.Context, client *ent.Client) (Answer, bool, error) {
	row, err := client.IdempotencyKey.Query().
		Where(idempotencykey.Scope(o.Scope), idempotencykey.Key(o.Key), idempotencykey.ExpiresAtGT(o.now)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return Answer{}, false, nil
	}
	if err != nil {
		return Answer{}, false, storageError(err, "")
	}
	if subtle.ConstantTimeCompare(row.Fingerprint, o.fingerprint) != 1 {
		return Answer{}, false, &Error{Code: CodeIdempotencyKeyReused,
			Message: "this Idempotency-Key was sent with another request body; use a new key for a new request",
			Fields:  []FieldError{{Field: "Idempotency-Key", Message: "was used with another body"}}}
	}
	return Answer{Status: row.Status, Header: row.Header, Body: row.Body}, true, nil
}

// claimSQL inserts the key's row, or takes over one whose answer expired;
// on a live row of another transaction it waits for that one to end.
var claimSQL = fmt.Sprintf(`INSERT INTO %[1]s (%[2]s, %[3]s, %[4]s, %[5]s, %[6]s, %[7]s, %[8]s, %[9]s, %[10]s)
VALUES ($1, $2, $3, $4, $5, 0, '{}', '', $6)
ON CONFLICT (%[4]s, %[5]s) DO UPDATE SET %[2]s = EXCLUDED.%[2]s, %[3]s = EXCLUDED.%[3]s,
  %[6]s = EXCLUDED.%[6]s, %[7]s = 0, %[8]s = '{}', %[9]s = '', %[10]s = EXCLUDED.%[10]s
WHERE %[1]s.%[10]s <= $2`,
	idempotencykey.Table, idempotencykey.FieldID, idempotencykey.FieldCreatedAt, idempotencykey.FieldScope,
	idempotencykey.FieldKey, idempotencykey.FieldFingerprint, idempotencykey.FieldStatus,
	idempotencykey.FieldHeader, idempotencykey.FieldBody, idempotencykey.FieldExpiresAt)

// take claims the key in tx. It returns false when an earlier request
// holds it, with that request's answer in o.answer (or the reuse error).
func (o *onceClaim) take(ctx context.Context, tx *ent.Tx) (bool, error) {
	res, err := tx.ExecContext(ctx, claimSQL, schema.NewID(), o.now, o.Scope, o.Key, o.fingerprint, o.now.Add(IdempotencyRetention))
	if err != nil {
		return false, storageError(err, "")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return false, storageError(err, "")
		}
		a, found, err := o.stored(ctx, tx.Client())
		if err == nil && !found {
			err = fmt.Errorf("account: idempotency key row vanished under its lock")
		}
		o.answer = a
		return false, err
	}
	_, err = tx.IdempotencyKey.Delete().
		Where(idempotencykey.Scope(o.Scope),
			exceptNewest(idempotencykey.Table, idempotencykey.FieldID, idempotencykey.FieldScope, o.Scope, o.keep)).
		Exec(ctx)
	return true, storageError(err, "")
}

// store stores the answer to the create of u in tx.
func (o *onceClaim) store(ctx context.Context, tx *ent.Tx, u User) error {
	a, err := o.Render(u)
	if err != nil {
		return err
	}
	o.answer = a
	err = tx.IdempotencyKey.Update().
		Where(idempotencykey.Scope(o.Scope), idempotencykey.Key(o.Key)).
		SetStatus(a.Status).SetHeader(a.Header).SetBody(a.Body).
		Exec(ctx)
	return storageError(err, "")
}

// PurgeIdempotencyKeys deletes up to batch answers past their retention
// and returns how many it deleted; like the session purge, every replica
// may run it at once.
func (s *Users) PurgeIdempotencyKeys(ctx context.Context, batch int) (int, error) {
	n, err := s.client.IdempotencyKey.Delete().
		Where(database.PurgeBatch(idempotencykey.Table, idempotencykey.FieldID, entsql.LTE(idempotencykey.FieldExpiresAt, s.now()), batch)).
		Exec(ctx)
	return n, storageError(err, "")
}
