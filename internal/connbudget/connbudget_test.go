package connbudget

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// serve runs an HTTP server on a Listener with o; GET /block waits until
// release is closed.
func serve(t *testing.T, o Options) (addr string, release chan struct{}) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(raw, o)
	release = make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				<-release
			}
		}),
		ConnState: l.ConnState,
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return raw.Addr().String(), release
}

// dial opens a connection from the loopback address from.
func dial(t *testing.T, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// get sends GET path on c and reports whether an answer came.
func get(c net.Conn, path string) bool {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// closed reports whether the server closed c.
func closed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestShedsLongestIdleFirst: at the cap a new connection is served and
// the connection idle longest is closed for it; when every connection is
// serving a request, the new one is closed instead.
func TestShedsLongestIdleFirst(t *testing.T) {
	t.Parallel()
	addr, release := serve(t, Options{Max: 3})
	var idle []net.Conn
	for range 3 {
		c := dial(t, addr, "127.0.0.1")
		if !get(c, "/") {
			t.Fatal("a connection within the budget was not served")
		}
		idle = append(idle, c)
		time.Sleep(50 * time.Millisecond)
	}
	fresh := dial(t, addr, "127.0.0.1")
	if !get(fresh, "/") {
		t.Fatal("a fresh connection at the cap was not served")
	}
	if !closed(idle[0]) {
		t.Fatal("the longest-idle connection was not closed to make room")
	}
	for _, c := range append(idle[1:], fresh) {
		go get(c, "/block")
	}
	time.Sleep(200 * time.Millisecond)
	if c := dial(t, addr, "127.0.0.1"); !closed(c) {
		t.Fatal("with every connection busy, a new one was not refused")
	}
	close(release)
}

// TestPerAddressCap: one address holds at most PerAddress connections,
// its own idle ones shed first, while another address is not held back
// and an exempt one (a proxy) has no cap but Max.
func TestPerAddressCap(t *testing.T) {
	t.Parallel()
	proxy := netip.MustParseAddr("127.0.0.3")
	addr, release := serve(t, Options{Max: 10, PerAddress: 2, Exempt: func(ip netip.Addr) bool { return ip == proxy }})
	defer close(release)
	a1, a2 := dial(t, addr, "127.0.0.1"), dial(t, addr, "127.0.0.1")
	b := dial(t, addr, "127.0.0.2")
	for _, c := range []net.Conn{a1, a2, b} {
		if !get(c, "/") {
			t.Fatal("a connection within the caps was not served")
		}
		// The server marks a connection idle after it has written the
		// answer the client already read: let a1 become idle before a2
		// does, or "longest idle" is a coin toss on a loaded machine.
		time.Sleep(50 * time.Millisecond)
	}
	a3 := dial(t, addr, "127.0.0.1")
	if !get(a3, "/") || !closed(a1) {
		t.Fatal("past the per-address cap the address's longest-idle connection was not shed for the new one")
	}
	if !get(b, "/") {
		t.Fatal("another address's connection was shed")
	}
	for range 5 {
		if c := dial(t, addr, "127.0.0.3"); !get(c, "/") {
			t.Fatal("an exempt address was held to the per-address cap")
		}
	}
}

// TestReservedForNewClients: once only Reserved places are left, an
// address holding newClientConns busy connections gets no more, while an
// address new to the server still does, up to Max.
func TestReservedForNewClients(t *testing.T) {
	t.Parallel()
	addr, release := serve(t, Options{Max: 10, Reserved: 4})
	defer close(release)
	for range 6 {
		go get(dial(t, addr, "127.0.0.1"), "/block")
	}
	time.Sleep(200 * time.Millisecond)
	if c := dial(t, addr, "127.0.0.1"); !closed(c) {
		t.Fatal("an address holding 6 busy connections took a reserved place")
	}
	for i := range 4 {
		if c := dial(t, addr, fmt.Sprintf("127.0.0.%d", 2+i)); !get(c, "/") {
			t.Fatalf("a new address was refused a reserved place (%d)", i)
		}
	}
}
