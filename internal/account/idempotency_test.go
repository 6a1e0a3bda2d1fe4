package account

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestIdempotencyKeysBoundedPerCaller: a caller keeps its newest keys
// only; the oldest is forgotten (a retry with it runs again, here into
// username_taken), and another caller's keys are untouched. An expired
// key is taken over by a new request, and the purge deletes expired ones.
func TestIdempotencyKeysBoundedPerCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{t: time.Now()}
	users := NewUsers(testDB(t), testHasher(t))
	users.SetClock(c.now)
	users.maxKeys = 3
	render := func(u User) (Answer, error) {
		return Answer{Status: http.StatusCreated, Header: map[string]string{}, Body: []byte(u.ID.String())}, nil
	}
	create := func(scope, key, name string) (Answer, error) {
		return users.CreateOnce(ctx, OnceCreate{New: NewUser{Username: name, Password: "password-" + name},
			Scope: scope, Key: key, Render: render})
	}
	first, err := create("address:a", "k0", "user0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create("address:b", "k0", "other0"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := create("address:a", fmt.Sprintf("k%d", i), fmt.Sprintf("user%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := users.client.IdempotencyKey.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("%d keys stored, want 3 of address:a and 1 of address:b", n)
	}
	_, err = create("address:a", "k0", "user0")
	mustCode(t, err, CodeUsernameTaken)
	if again, err := create("address:b", "k0", "other0"); err != nil || string(again.Body) == string(first.Body) {
		t.Fatalf("address:b's key: %s, %v", again.Body, err)
	}
	// Past the retention the key is free for a new request.
	c.advance(IdempotencyRetention)
	a, err := create("address:a", "k3", "user9")
	if err != nil || a.Status != http.StatusCreated {
		t.Fatalf("expired key reused: %+v, %v", a, err)
	}
	// The purge deletes the expired answers (a's k1 and k2, b's k0), not
	// the one just stored.
	if purged, err := users.PurgeIdempotencyKeys(ctx, 100); err != nil || purged != 3 {
		t.Fatalf("purged %d, %v; want 3", purged, err)
	}
	if left, err := users.client.IdempotencyKey.Query().Count(ctx); err != nil || left != 1 {
		t.Fatalf("%d answers left, %v; want 1", left, err)
	}
}
