// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package argon2id is golang.org/x/crypto/argon2 (v0.59.0) cut down to
// Argon2id, with one change of interface: the caller owns the memory the
// hash works in. Upstream's IDKey allocates its m KiB afresh on the Go heap
// for every hash, so a server hashing m = 19 MiB (OWASP's first setting)
// twice at a time makes the garbage collector's heap goal, and with it the
// resident set, several times what is live. Here a [Memory] is kept and reused, hash after hash.
//
// The rest is upstream's code, the BlaMka assembly for amd64 and loong64
// and the portable Go (purego, other architectures) under the same build
// tags, changed only where reused memory needs it (pass 0 overwrites
// blocks instead of XORing into them) or to drop what IDKey does not use
// (the secret and associated data, a goroutine for a hash's single lane,
// a second copy of the generic rounds). The tests hold the output byte for
// byte against golang.org/x/crypto/argon2.IDKey. The licence is in the
// LICENSE file.
package argon2id

import (
	"encoding/binary"
	"runtime"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// Version is the Argon2 version implemented by this package.
const Version = 0x13

// mode is Argon2id's type number, hashed into H0 and into the address
// blocks; upstream's argon2d and argon2i paths are left out.
const mode = 2

// Memory is the working memory of Argon2id hashes, reused from one hash to
// the next. Its zero value is ready to use and holds nothing until the first
// hash. A Memory is not safe for concurrent use: give each goroutine its
// own.
type Memory struct {
	blocks []block
	// release returns blocks to the operating system when they were mapped
	// outside the Go heap, nil when they are on the heap.
	release func()
}

// NewMemory returns a Memory with room for hashes of up to kib KiB, so that
// the first hash does not allocate.
func NewMemory(kib uint32) *Memory {
	m := new(Memory)
	m.grow(int(kib))
	return m
}

// KiB returns how much memory m holds now, in KiB: a hash with a memory
// parameter up to this (and at least 8 KiB per thread, which Argon2
// requires anyway) runs in it without allocating.
func (m *Memory) KiB() uint32 { return uint32(len(m.blocks)) }

// Free gives the memory back (to the operating system at once where it was
// mapped outside the Go heap). m stays usable: the next hash allocates
// again.
func (m *Memory) Free() {
	if m.release != nil {
		m.release()
	}
	m.blocks, m.release = nil, nil
}

func (m *Memory) grow(n int) {
	m.Free()
	m.blocks, m.release = allocBlocks(m, n)
}

// IDKey derives a key from the password, salt, and cost parameters using
// Argon2id, exactly as golang.org/x/crypto/argon2.IDKey does, but in m: it
// grows m first if m is smaller than the hash needs, and otherwise allocates
// only the returned key. The time parameter is the number of passes, memory
// the size of the memory in KiB and threads the number of lanes; time and
// threads must be at least 1.
//
// The blocks the hash used are cleared before IDKey returns, so no
// password-derived data stays in m between hashes.
func (m *Memory) IDKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if time < 1 {
		panic("argon2id: number of rounds too small")
	}
	if threads < 1 {
		panic("argon2id: parallelism degree too low")
	}
	h0 := initHash(password, salt, time, memory, uint32(threads), keyLen)

	memory = blockCount(memory, uint32(threads))
	if int(memory) > len(m.blocks) {
		m.grow(int(memory))
	}
	B := m.blocks[:memory]
	// The blocks hold the password's derived state. Upstream leaves that to
	// the garbage collector; a reused Memory would keep it for as long as
	// the process lives, and a heap dump or core file would show it, so it
	// is wiped here. Upstream pays as much: the runtime zeroes its make()
	// of the same size for every hash (BenchmarkIDKey: 23 ms a hash with
	// the wipe at the service's parameters, upstream 27 ms; releasing the
	// pages with madvise(MADV_DONTNEED) instead costs 30 ms, in the page
	// faults of the next hash). Pass 0 overwrites
	// every block (see processBlocks), so the wipe is not needed for the
	// result, only for secrecy.
	defer func() {
		clear(B)
		// B may lie outside the Go heap, unmapped by a cleanup once m is
		// unreachable; m must stay reachable until B is no longer used.
		runtime.KeepAlive(m)
	}()
	initBlocks(&h0, B, uint32(threads))
	processBlocks(B, time, memory, uint32(threads))
	return extractKey(B, memory, uint32(threads), keyLen)
}

// blockCount is how many 1 KiB blocks a hash with these parameters uses:
// memory rounded down to a multiple of 4 blocks (one per segment) per lane,
// and at least 8 blocks per lane.
func blockCount(memory, threads uint32) uint32 {
	memory = memory / (syncPoints * threads) * (syncPoints * threads)
	return max(memory, 2*syncPoints*threads)
}

const (
	blockLength = 128
	syncPoints  = 4
)

type block [blockLength]uint64

// initHash computes H0. IDKey takes no secret and no associated data, so
// their lengths are hashed as zero, as upstream's IDKey does.
func initHash(password, salt []byte, time, memory, threads, keyLen uint32) [blake2b.Size + 8]byte {
	var (
		h0     [blake2b.Size + 8]byte
		params [24]byte
		tmp    [4]byte
	)

	b2, _ := blake2b.New512(nil)
	binary.LittleEndian.PutUint32(params[0:4], threads)
	binary.LittleEndian.PutUint32(params[4:8], keyLen)
	binary.LittleEndian.PutUint32(params[8:12], memory)
	binary.LittleEndian.PutUint32(params[12:16], time)
	binary.LittleEndian.PutUint32(params[16:20], uint32(Version))
	binary.LittleEndian.PutUint32(params[20:24], uint32(mode))
	b2.Write(params[:])
	for _, b := range [][]byte{password, salt, nil, nil} {
		binary.LittleEndian.PutUint32(tmp[:], uint32(len(b)))
		b2.Write(tmp[:])
		b2.Write(b)
	}
	b2.Sum(h0[:0])
	return h0
}

// initBlocks writes the first two blocks of each lane into B, which the
// caller supplies (upstream allocates it here).
func initBlocks(h0 *[blake2b.Size + 8]byte, B []block, threads uint32) {
	var block0 [1024]byte
	memory := uint32(len(B))
	for lane := uint32(0); lane < threads; lane++ {
		j := lane * (memory / threads)
		binary.LittleEndian.PutUint32(h0[blake2b.Size+4:], lane)
		for k := range uint32(2) {
			binary.LittleEndian.PutUint32(h0[blake2b.Size:], k)
			blake2bHash(block0[:], h0[:])
			for i := range B[j+k] {
				B[j+k][i] = binary.LittleEndian.Uint64(block0[i*8:])
			}
		}
	}
}

func processBlocks(B []block, time, memory, threads uint32) {
	lanes := memory / threads
	segments := lanes / syncPoints

	processSegment := func(n, slice, lane uint32, wg *sync.WaitGroup) {
		var addresses, in, zero block
		if n == 0 && slice < syncPoints/2 {
			in[0] = uint64(n)
			in[1] = uint64(lane)
			in[2] = uint64(slice)
			in[3] = uint64(memory)
			in[4] = uint64(time)
			in[5] = uint64(mode)
		}

		index := uint32(0)
		if n == 0 && slice == 0 {
			index = 2 // we have already generated the first two blocks
			in[6]++
			processBlock(&addresses, &in, &zero)
			processBlock(&addresses, &addresses, &zero)
		}

		offset := lane*lanes + slice*segments + index
		var random uint64
		for index < segments {
			prev := offset - 1
			if index == 0 && slice == 0 {
				prev += lanes // last block in lane
			}
			if n == 0 && slice < syncPoints/2 {
				if index%blockLength == 0 {
					in[6]++
					processBlock(&addresses, &in, &zero)
					processBlock(&addresses, &addresses, &zero)
				}
				random = addresses[index%blockLength]
			} else {
				random = B[prev][0]
			}
			newOffset := indexAlpha(random, lanes, segments, threads, n, slice, lane, index)
			// Upstream XORs into every block, also in pass 0, which is
			// right only because make() handed it zeroed blocks. The
			// specification (RFC 9106, section 3.2, step 6) overwrites in
			// pass 0 and XORs from pass 1 on; doing so makes the result
			// independent of what the reused memory held before.
			if n == 0 {
				processBlock(&B[offset], &B[prev], &B[newOffset])
			} else {
				processBlockXOR(&B[offset], &B[prev], &B[newOffset])
			}
			index, offset = index+1, offset+1
		}
		if wg != nil {
			wg.Done()
		}
	}

	for n := uint32(0); n < time; n++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			// Lane 0 runs on the calling goroutine; with one thread, as
			// the service uses, no goroutine is started at all.
			var wg sync.WaitGroup
			for lane := uint32(1); lane < threads; lane++ {
				wg.Add(1)
				go processSegment(n, slice, lane, &wg)
			}
			processSegment(n, slice, 0, nil)
			wg.Wait()
		}
	}
}

func extractKey(B []block, memory, threads, keyLen uint32) []byte {
	lanes := memory / threads
	for lane := uint32(0); lane < threads-1; lane++ {
		for i, v := range B[(lane*lanes)+lanes-1] {
			B[memory-1][i] ^= v
		}
	}

	var block [1024]byte
	for i, v := range B[memory-1] {
		binary.LittleEndian.PutUint64(block[i*8:], v)
	}
	key := make([]byte, keyLen)
	blake2bHash(key, block[:])
	return key
}

func indexAlpha(rand uint64, lanes, segments, threads, n, slice, lane, index uint32) uint32 {
	refLane := uint32(rand>>32) % threads
	if n == 0 && slice == 0 {
		refLane = lane
	}
	m, s := 3*segments, ((slice+1)%syncPoints)*segments
	if lane == refLane {
		m += index
	}
	if n == 0 {
		m, s = slice*segments, 0
		if slice == 0 || lane == refLane {
			m += index
		}
	}
	if index == 0 || lane == refLane {
		m--
	}
	return phi(rand, uint64(m), uint64(s), refLane, lanes)
}

func phi(rand, m, s uint64, lane, lanes uint32) uint32 {
	p := rand & 0xFFFFFFFF
	p = (p * p) >> 32
	p = (p * m) >> 32
	return lane*lanes + uint32((s+m-(p+1))%uint64(lanes))
}
