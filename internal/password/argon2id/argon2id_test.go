// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package argon2id

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// params is one set of IDKey inputs.
type params struct {
	password, salt []byte
	time, memory   uint32
	threads        uint8
	keyLen         uint32
}

func (p params) String() string {
	return fmt.Sprintf("password=%x salt=%x t=%d m=%d p=%d keyLen=%d", p.password, p.salt, p.time, p.memory, p.threads, p.keyLen)
}

// randomParams draws inputs that reach every branch upstream has: empty
// and long passwords and salts, memory below the 8 KiB-per-lane minimum
// and not a multiple of 4 × lanes (both rounded), one to four lanes, and
// keys shorter and longer than one BLAKE2b output (64 bytes).
func randomParams(r *rand.Rand, maxKiB uint32) params {
	bytesOf := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	p := params{
		password: bytesOf(r.IntN(80)),
		salt:     bytesOf(r.IntN(40)),
		time:     1 + r.Uint32N(3),
		threads:  uint8(1 + r.IntN(4)),
		keyLen:   4 + r.Uint32N(150),
	}
	if r.IntN(4) == 0 {
		p.memory = maxKiB/2 + r.Uint32N(maxKiB/2)
	} else {
		p.memory = 1 + r.Uint32N(512)
	}
	return p
}

func newRand(t testing.TB) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed))
}

func checkAgainstUpstream(t *testing.T, m *Memory, p params) {
	t.Helper()
	want := argon2.IDKey(p.password, p.salt, p.time, p.memory, p.threads, p.keyLen)
	got := m.IDKey(p.password, p.salt, p.time, p.memory, p.threads, p.keyLen)
	if !bytes.Equal(got, want) {
		t.Fatalf("IDKey(%v) = %x, upstream %x", p, got, want)
	}
}

// TestIDKeyMatchesUpstream: a fresh Memory per hash gives upstream's key.
func TestIDKeyMatchesUpstream(t *testing.T) {
	t.Parallel()
	r := newRand(t)
	for range 60 {
		checkAgainstUpstream(t, new(Memory), randomParams(r, 4096))
	}
}

// TestIDKeyReusedMemory: one Memory through hashes of growing and shrinking
// sizes, poisoned before each, gives upstream's key every time, and is
// wiped after each.
func TestIDKeyReusedMemory(t *testing.T) {
	t.Parallel()
	r := newRand(t)
	m := NewMemory(64)
	for range 60 {
		// Upstream relies on make()'s zeroes; the fork must not depend on
		// what a previous hash, or anything else, left in the blocks.
		for i := range m.blocks {
			for j := range m.blocks[i] {
				m.blocks[i][j] = r.Uint64()
			}
		}
		p := randomParams(r, 3072)
		checkAgainstUpstream(t, m, p)
		for i := range blockCount(p.memory, uint32(p.threads)) {
			if m.blocks[i] != (block{}) {
				t.Fatalf("block %d of %d is not wiped after the hash", i, len(m.blocks))
			}
		}
	}
}

// TestIDKeyConcurrent: distinct Memories in concurrent goroutines (and the
// lanes of one hash, which run concurrently too) do not interfere; run it
// with -race.
func TestIDKeyConcurrent(t *testing.T) {
	t.Parallel()
	r := newRand(t)
	var cases [4][]params
	for i := range cases {
		for range 6 {
			cases[i] = append(cases[i], randomParams(r, 1024))
		}
	}
	var wg sync.WaitGroup
	for _, ps := range cases {
		wg.Go(func() {
			m := new(Memory)
			for _, p := range ps {
				want := argon2.IDKey(p.password, p.salt, p.time, p.memory, p.threads, p.keyLen)
				if got := m.IDKey(p.password, p.salt, p.time, p.memory, p.threads, p.keyLen); !bytes.Equal(got, want) {
					t.Errorf("IDKey(%v) = %x, upstream %x", p, got, want)
				}
			}
		})
	}
	wg.Wait()
}

// testVectors are upstream's Argon2id vectors (password "password", salt
// "somesalt"), so that the package is checked even if upstream and the
// fork ever went wrong together.
var testVectors = []struct {
	time, memory uint32
	threads      uint8
	hash         string
}{
	{1, 64, 1, "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
	{2, 64, 1, "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
	{2, 64, 2, "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
	{3, 256, 2, "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b"},
	{4, 4096, 4, "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a"},
	{4, 1024, 8, "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"},
	{2, 64, 3, "4a15b31aec7c2590b87d1f520be7d96f56658172deaa3079"},
	{3, 1024, 6, "1640b932f4b60e272f5d2207b9a9c626ffa1bd88d2349016"},
}

func checkVectors(t *testing.T) {
	t.Helper()
	m := new(Memory)
	for _, v := range testVectors {
		want, _ := hex.DecodeString(v.hash)
		if got := m.IDKey([]byte("password"), []byte("somesalt"), v.time, v.memory, v.threads, uint32(len(want))); !bytes.Equal(got, want) {
			t.Errorf("IDKey(t=%d m=%d p=%d) = %x, want %s", v.time, v.memory, v.threads, got, v.hash)
		}
	}
}

func TestVectors(t *testing.T) {
	t.Parallel()
	checkVectors(t)
}

// TestGeneric checks the portable BlaMka too where the vector code (SSE4.1
// on amd64, LSX on loong64) would otherwise be the only one run. It is not
// parallel: it switches a package-wide setting, which the parallel tests,
// run after it, read.
func TestGeneric(t *testing.T) {
	defer func(sse4, lsx bool) { useSSE4, useLSX = sse4, lsx }(useSSE4, useLSX)
	useSSE4, useLSX = false, false
	checkVectors(t)
	r := newRand(t)
	m := new(Memory)
	for range 10 {
		checkAgainstUpstream(t, m, randomParams(r, 1024))
	}
}

// TestMemorySize: NewMemory holds what it was asked for, Free gives it
// back, and a freed Memory grows again on the next hash.
func TestMemorySize(t *testing.T) {
	t.Parallel()
	m := NewMemory(256)
	if m.KiB() != 256 {
		t.Fatalf("NewMemory(256).KiB() = %d", m.KiB())
	}
	checkAgainstUpstream(t, m, params{password: []byte("pw"), salt: []byte("saltsalt"), time: 1, memory: 100, threads: 2, keyLen: 32})
	if m.KiB() != 256 {
		t.Fatalf("a hash of 100 KiB in 256 KiB changed KiB() to %d", m.KiB())
	}
	m.Free()
	if m.KiB() != 0 {
		t.Fatalf("KiB() after Free = %d", m.KiB())
	}
	checkAgainstUpstream(t, m, params{password: []byte("pw"), salt: []byte("saltsalt"), time: 1, memory: 300, threads: 1, keyLen: 32})
	if m.KiB() != 300 {
		t.Fatalf("KiB() after a 300 KiB hash in a freed Memory = %d", m.KiB())
	}
}

// TestUnreachableMemory: a Memory nobody holds while its hash runs must
// not be released under the hash (mapped blocks are unmapped by a cleanup
// once their Memory is unreachable; that would be a crash here).
func TestUnreachableMemory(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	})
	defer wg.Wait()
	defer close(stop)
	want := argon2.IDKey([]byte("pw"), []byte("saltsalt"), 2, 2048, 1, 32)
	for range 20 {
		if got := NewMemory(2048).IDKey([]byte("pw"), []byte("saltsalt"), 2, 2048, 1, 32); !bytes.Equal(got, want) {
			t.Fatalf("IDKey = %x, want %x", got, want)
		}
	}
}

// TestReuseAllocatesLittle: a hash in a warm Memory allocates a few small
// buffers, not its memory parameter.
func TestReuseAllocatesLittle(t *testing.T) {
	const kib = 4096
	m := NewMemory(kib)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 5
	for range n {
		m.IDKey([]byte("password"), []byte("saltsalt"), 1, kib, 1, 32)
	}
	runtime.ReadMemStats(&after)
	perHash := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%d bytes allocated per hash of %d KiB", perHash, kib)
	if perHash > 16<<10 {
		t.Fatalf("%d bytes allocated per hash of %d KiB in a reused Memory, want under 16 KiB", perHash, kib)
	}
}

// BenchmarkIDKey puts upstream's IDKey and the fork side by side, at the
// service's default parameters and at RFC 9106's second recommended ones:
// "fork" in a reused Memory (mapped outside the heap on Linux), "fork-heap"
// in a reused Memory on the Go heap.
func BenchmarkIDKey(b *testing.B) {
	pw, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	for _, c := range []struct {
		name         string
		time, memory uint32
		threads      uint8
	}{
		{"t=2,m=19456,p=1", 2, 19456, 1},
		{"t=3,m=65536,p=4", 3, 65536, 4},
	} {
		b.Run(c.name+"/upstream", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				argon2.IDKey(pw, salt, c.time, c.memory, c.threads, 32)
			}
		})
		b.Run(c.name+"/fork", func(b *testing.B) {
			b.ReportAllocs()
			m := NewMemory(c.memory)
			defer m.Free()
			for b.Loop() {
				m.IDKey(pw, salt, c.time, c.memory, c.threads, 32)
			}
		})
		b.Run(c.name+"/fork-heap", func(b *testing.B) {
			b.ReportAllocs()
			m := &Memory{blocks: make([]block, c.memory)}
			for b.Loop() {
				m.IDKey(pw, salt, c.time, c.memory, c.threads, 32)
			}
		})
	}
}
