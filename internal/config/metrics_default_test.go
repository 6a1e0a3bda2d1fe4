package config

import (
	"net"
	"strconv"
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

// TestMetricsDefaultPortIsNoPrometheusOne (issue 22): the default port of
// metrics.addr is none of the Prometheus ecosystem's: not the server's
// 9090, nor 9091-9099 (Pushgateway, Alertmanager and their neighbours),
// nor the exporters' 9100-9999; a scraper and the service share hosts.
// It is also below every ephemeral range (Linux's starts at 32768).
func TestMetricsDefaultPortIsNoPrometheusOne(t *testing.T) {
	t.Parallel()
	_, p, err := net.SplitHostPort(Default().Metrics.Addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port >= 9090 && port <= 9999 || port >= 32768 || port < 1024 {
		t.Fatalf("metrics.addr default port %s is a Prometheus port, an ephemeral or a system one", p)
	}
}
