package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestServeSetsMemoryLimit checks that serve applies
// runtime.memory_limit_mib to the Go runtime. The limit belongs to the
// whole test process, so this test is not parallel (it runs before the
// parallel ones start) and puts the previous limit back.
func TestServeSetsMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	// Far above anything the tests use, so it changes nothing meanwhile.
	const mib = 1 << 20
	s := startServer(t, map[string]string{"ACCOUNTS_RUNTIME_MEMORY_LIMIT_MIB": "1048576"})
	if got := debug.SetMemoryLimit(-1); got != mib<<20 {
		t.Fatalf("memory limit while serving = %d, want %d (1 TiB)", got, int64(mib)<<20)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	s0 := startServer(t, nil) // the harness sets runtime.memory_limit_mib=0
	defer func() {
		if err := s0.stop(); err != nil {
			t.Error(err)
		}
	}()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("runtime.memory_limit_mib=0 changed the limit to %d", got)
	}
}
