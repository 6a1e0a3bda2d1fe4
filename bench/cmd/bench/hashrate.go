package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"

	"accounts/internal/config"
)

// hashrateCommand measures the raw argon2id rate: --workers goroutines
// calling golang.org/x/crypto/argon2.IDKey with the given parameters back
// to back, nothing else. It is the ceiling of sign-up and login throughput
// on these cores, with the primitive the service hashes with, so the ratio
// measures the rest of a request.
func hashrateCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hashrate", flag.ContinueOnError)
	def := config.Default().Password
	passes := fs.Uint("time", uint(def.Argon2Time), "argon2id passes")
	memory := fs.Uint("memory-kib", uint(def.Argon2MemoryKB), "argon2id memory in KiB")
	threads := fs.Uint("threads", 1, "argon2id lanes")
	workers := fs.Int("workers", 2, "hashes computed at once")
	warmup := fs.Duration("warmup", 500*time.Millisecond, "warm-up, not measured")
	duration := fs.Duration("duration", 3*time.Second, "measured duration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	salt := []byte("0123456789abcdef")
	pw := []byte("correct horse battery staple")
	run := func(d time.Duration) (int64, time.Duration) {
		var n atomic.Int64
		deadline := time.Now().Add(d)
		start := time.Now()
		var wg sync.WaitGroup
		for range *workers {
			wg.Go(func() {
				for time.Now().Before(deadline) && ctx.Err() == nil {
					argon2.IDKey(pw, salt, uint32(*passes), uint32(*memory), uint8(*threads), 32)
					n.Add(1)
				}
			})
		}
		wg.Wait()
		return n.Load(), time.Since(start)
	}
	run(*warmup)
	cpu0 := cpuSelf()
	n, took := run(*duration)
	cpu := cpuSelf() - cpu0
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{
		"hashes":          float64(n),
		"seconds":         took.Seconds(),
		"hashes_per_sec":  float64(n) / took.Seconds(),
		"cpu_us_per_hash": cpu / float64(max(n, 1)) * 1e6,
	})
}

// cpuSelf is the CPU time (user and system) this process has used.
func cpuSelf() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
