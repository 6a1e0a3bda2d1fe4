//go:build !unix

package service

// raiseFileLimit is a no-op where there is no RLIMIT_NOFILE: the limit is
// unknown (0).
func raiseFileLimit() (uint64, error) { return 0, nil }
