//go:build linux

package argon2id

import (
	"runtime"
	"syscall"
	"unsafe"
)

// allocBlocks maps n blocks of anonymous memory outside the Go heap. Kept
// on the heap, a service's buffers (2 × 9 MiB by default) would count as
// live heap for ever, and with GOGC=100 the garbage collector would let
// the heap grow by as much again before collecting; mapped here, they cost
// their own size and nothing more. A cleanup unmaps them should owner be
// dropped without Free. If the kernel refuses the mapping, the blocks come
// from the Go heap, as upstream's do.
func allocBlocks(owner *Memory, n int) ([]block, func()) {
	if n == 0 {
		return nil, nil
	}
	b, err := syscall.Mmap(-1, 0, n*int(unsafe.Sizeof(block{})),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return make([]block, n), nil
	}
	// A mapping is page-aligned, so it is aligned for block's uint64s.
	blocks := unsafe.Slice((*block)(unsafe.Pointer(unsafe.SliceData(b))), n)
	cleanup := runtime.AddCleanup(owner, unmap, b)
	return blocks, func() {
		cleanup.Stop()
		unmap(b)
	}
}

func unmap(b []byte) { _ = syscall.Munmap(b) }
