//go:build unix

package service

import "syscall"

// raiseFileLimit raises the soft limit on open files to the hard limit
// (Go's runtime does as much on Linux, this also states it) and returns
// the soft limit in force, 0 when it cannot be read.
func raiseFileLimit() (soft uint64, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur >= r.Max {
		return r.Cur, nil
	}
	want := r
	want.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return r.Cur, err
	}
	return want.Cur, nil
}
