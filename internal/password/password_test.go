package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// small keeps the tests fast on a two-core machine; the cost parameters do
// not change the logic under test.
var small = Params{Time: 1, MemoryKiB: 64, Threads: 1}

func newHasher(t *testing.T, opts Options) *Hasher {
	t.Helper()
	if opts.Params == (Params{}) {
		opts.Params = small
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 2
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = time.Second
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, Options{Pepper: []byte("pepper")})
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1,keyid="+h.KeyID()+"$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the configured parameters", enc)
	}
	if strings.Contains(enc, "correct horse") || strings.Contains(enc, "pepper") {
		t.Fatal("the hash contains the password or the pepper")
	}
	ok, rehash, err := h.Verify(ctx, "correct horse", enc)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, _, err = h.Verify(ctx, "wrong horse", enc)
	if err != nil || ok {
		t.Fatalf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
	}
	// Two hashes of one password differ: each has its own salt.
	enc2, _ := h.Hash(ctx, "correct horse")
	if enc2 == enc {
		t.Fatal("two hashes of one password are equal; the salt is not random")
	}
}

// TestPepper shows why the pepper matters: a hash made under one pepper does
// not verify under another, so a copy of the table without the config is
// useless for guessing.
func TestPepper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newHasher(t, Options{Pepper: []byte("one")})
	b := newHasher(t, Options{Pepper: []byte("two")})
	enc, _ := a.Hash(ctx, "secret password")
	if ok, _, _ := b.Verify(ctx, "secret password", enc); ok {
		t.Fatal("a hash verified under a different pepper")
	}
}

// TestRehash: a login under changed parameters must report that the stored
// hash is stale, and only when the password is right.
func TestRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newHasher(t, Options{Params: small})
	cur := newHasher(t, Options{Params: Params{Time: 2, MemoryKiB: 128, Threads: 1}})
	enc, _ := old.Hash(ctx, "password one")
	ok, rehash, err := cur.Verify(ctx, "password one", enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify under new params = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	ok, rehash, _ = cur.Verify(ctx, "password two", enc)
	if ok || rehash {
		t.Fatalf("wrong password: ok=%v rehash=%v; want false, false", ok, rehash)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{})
	for _, s := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, _, err := h.Verify(context.Background(), "x", s); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) error = %v, want ErrMalformedHash", s, err)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{})
	if err := h.VerifyDummy(context.Background(), "anything"); err != nil {
		t.Fatal(err)
	}
}

// TestBusy: with every slot taken for longer than MaxWait, Hash gives up with
// ErrBusy instead of queueing, and works again once a slot is free.
func TestBusy(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{MaxConcurrent: 1, MaxWait: 20 * time.Millisecond})
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := h.Hash(context.Background(), "password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with no free slot = %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("Hash waited %s for a slot, want about MaxWait", waited)
	}
	h.release(context.Background())
	if _, err := h.Hash(context.Background(), "password"); err != nil {
		t.Fatalf("Hash after release: %v", err)
	}
}

// TestConcurrencyBound: never more than MaxConcurrent hashes run at once.
func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	h := newHasher(t, Options{MaxConcurrent: 2, MaxWait: 10 * time.Second})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "password"); err != nil {
				t.Error(err)
			}
			if n := h.InUse(); n > 2 {
				t.Errorf("%d hashes running, want at most 2", n)
			}
		})
	}
	wg.Wait()
}

// TestVerifyBiggerHash: a hash stored under more memory and more lanes
// than are configured verifies, and asks for a rehash.
func TestVerifyBiggerHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	big := newHasher(t, Options{Params: Params{Time: 1, MemoryKiB: 1024, Threads: 2}})
	cur := newHasher(t, Options{Params: small})
	enc, _ := big.Hash(ctx, "password")
	ok, rehash, err := cur.Verify(ctx, "password", enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify of a bigger hash = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	if ok, _, _ := cur.Verify(ctx, "wrong", enc); ok {
		t.Fatal("a wrong password verified against a bigger hash")
	}
}

// TestHashNamesItsPepper: a hash carries the key id of its pepper as the
// PHC keyid parameter, never the pepper; a Hasher with another pepper, or
// none, reports the mismatch by key id instead of a plain false, and a
// rehash of its own hashes is not asked for.
func TestHashNamesItsPepper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	params := Params{Time: 1, MemoryKiB: 64, Threads: 1}
	hasher := func(pepper string) *Hasher {
		h, err := New(Options{Params: params, Pepper: []byte(pepper), MaxConcurrent: 1, MaxWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	one, other, none := hasher("pepper-one-0123456789abcdef0123456789"), hasher("pepper-two-0123456789abcdef0123456789"), hasher("")
	encoded, err := one.Hash(ctx, "a password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(encoded, ",keyid="+one.KeyID()+"$") || len(one.KeyID()) != 8 || HashKeyID(encoded) != one.KeyID() {
		t.Fatalf("hash %s does not carry the key id %q", encoded, one.KeyID())
	}
	if strings.Contains(encoded, "pepper-one") {
		t.Fatalf("hash %s shows the pepper", encoded)
	}
	if ok, rehash, err := one.Verify(ctx, "a password", encoded); !ok || rehash || err != nil {
		t.Fatalf("own hash: Verify = %v, rehash %v, %v", ok, rehash, err)
	}
	for _, h := range []*Hasher{other, none} {
		ok, _, err := h.Verify(ctx, "a password", encoded)
		var mismatch *KeyMismatchError
		if ok || !errors.As(err, &mismatch) || mismatch.Stored != one.KeyID() || mismatch.Current != h.KeyID() {
			t.Fatalf("hasher of key id %q: Verify = %v, %v; want a KeyMismatchError naming %q", h.KeyID(), ok, err, one.KeyID())
		}
	}
	unpeppered, err := none.Hash(ctx, "a password")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(unpeppered, "keyid") || HashKeyID(unpeppered) != "" {
		t.Fatalf("a hash without pepper carries a key id: %s", unpeppered)
	}
	for _, bad := range []string{",keyid=", ",keyid=!!!!", ",keyid=AAAAAAAAAAAAAAAA", ",keyid=AAAAAAAA,keyid=AAAAAAAA"} {
		if _, _, err := one.Verify(ctx, "a password", strings.Replace(encoded, ",keyid="+one.KeyID(), bad, 1)); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("keyid %q: %v, want ErrMalformedHash", bad, err)
		}
	}
}
