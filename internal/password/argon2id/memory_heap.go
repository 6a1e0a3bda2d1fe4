//go:build !linux

package argon2id

// allocBlocks takes the blocks from the Go heap where anonymous mappings
// are not used (see memory_mmap.go); the Memory is still reused, so the
// heap holds them once rather than once per hash.
func allocBlocks(_ *Memory, n int) ([]block, func()) {
	return make([]block, n), nil
}
