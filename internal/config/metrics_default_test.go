package config

import (
	"net"
	"testing"
)

// TestMetricsDefaultOnLoopback (finding 12): by default /metrics has a
// listener of its own on a loopback address, not the API's.
func TestMetricsDefaultOnLoopback(t *testing.T) {
	t.Parallel()
	m := Default().Metrics
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		t.Fatalf("metrics.addr default %q: %v (empty serves /metrics with the API)", m.Addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("metrics.addr default %q is not a loopback address", m.Addr)
	}
}
