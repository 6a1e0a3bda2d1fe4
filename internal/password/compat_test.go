package password

import (
	"context"
	"testing"
	"time"
)

// TestVerifiesHashesOfEarlierBuilds checks that hashes already stored keep
// verifying: the first two were written by main at 8514ae7, whose argon2id
// was a copy of x/crypto's kept in this repository
// (internal/password/argon2id), the third by main at a6fcdc2 (the last
// build before hashes carried the pepper's key id), with the password and
// pepper given here. Peppered hashes without a key id ask for a rehash,
// which adds it; so does the one with two lanes, under today's defaults.
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
			rehash:   true,
		},
		{
			name:     "main a6fcdc2, default parameters, peppered, no key id",
			encoded:  "$argon2id$v=19$m=9216,t=4,p=1$Nct2WEy2DcS0WTYOLwpm6A$Rwam0FB0450D63Ql1TAL37XbmX4LYHC48MYHyPuuFxg",
			password: "correct horse battery staple",
			pepper:   "pepper-of-main-a6fcdc2-0123456789abcdef",
			rehash:   true,
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
