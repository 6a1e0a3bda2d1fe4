package password

import (
	"context"
	"testing"
	"time"
)

// TestVerifiesHashesOfEarlierBuilds checks that hashes already stored keep
// verifying: each was written by main at 8514ae7, whose argon2id was a copy
// of x/crypto's kept in this repository (internal/password/argon2id), with
// the password and pepper given here. The first is under today's default
// parameters, so it needs no rehash; the second, with two lanes and no
// pepper, asks for one under them.
func TestVerifiesHashesOfEarlierBuilds(t *testing.T) {
	t.Parallel()
	defaults := Params{Time: 4, MemoryKiB: 9216, Threads: 1}
	for _, c := range []struct {
		name, encoded, password, pepper string
		rehash                          bool
	}{
		{
			name:     "default parameters, peppered",
			encoded:  "$argon2id$v=19$m=9216,t=4,p=1$2a+zBh/592Eeh1b9sowIKA$/X+VCZTFrkis3FWHFFqLFzPc0b/HWm2Yy67BKZAAh38",
			password: "correct horse battery staple",
			pepper:   "pepper-of-main-8514ae7",
		},
		{
			name:     "two lanes, no pepper",
			encoded:  "$argon2id$v=19$m=16384,t=2,p=2$RIXVNzifaELLG5oKLViw0A$0oBkrTPwcNWZ73IPBcxyUI45opbmdxhtfqFyVswzBoo",
			password: "correct horse battery staple",
			rehash:   true,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h, err := New(Options{Params: defaults, Pepper: []byte(c.pepper), MaxConcurrent: 1, MaxWait: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := h.Verify(ctx, c.password, c.encoded)
			if err != nil || !ok || rehash != c.rehash {
				t.Fatalf("Verify = %v, rehash %v, %v; want true, rehash %v, nil", ok, rehash, err, c.rehash)
			}
			if ok, _, _ := h.Verify(ctx, c.password+"!", c.encoded); ok {
				t.Fatal("a wrong password verified")
			}
		})
	}
}
