//go:build !linux

package service

// portHolder returns "": outside Linux the holder of a port is not looked
// up (/proc/net is Linux's).
func portHolder(string) string { return "" }
