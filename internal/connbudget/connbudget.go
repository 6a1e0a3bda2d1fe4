// Package connbudget bounds the connections an HTTP server holds open, so
// that a client holding thousands of idle keep-alive connections cannot
// use up the process's file descriptors and keep everyone else out. A
// Listener caps the open connections in all and per client address; when
// a new connection would pass a cap, the connection that has sat idle
// longest (between two requests, or since it was accepted without sending
// anything) is closed to make room, and only when none is idle is the new
// one closed at once. Fresh clients are therefore served as long as some
// connection is idle, whatever number of idle ones a client opens.
package connbudget

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Options configure a Listener.
type Options struct {
	// Max is how many connections may be open at once (at least 1).
	Max int
	// PerAddress is how many of them one client address may hold (IPv6
	// addresses by their /64); 0 means no cap but Max.
	PerAddress int
	// Reserved is how many of Max are kept for new clients: once only
	// Reserved places are left, an address that already holds
	// newClientConns connections gets no more (its own idle ones are
	// shed to make room, as past PerAddress), so that clients that hold
	// many, busy or slow, cannot fill the last places.
	Reserved int
	// Exempt, when set, names addresses without a per-address cap:
	// reverse proxies, whose connections carry many clients.
	Exempt func(netip.Addr) bool
	// Log gets a line at most every LogEvery while connections are shed
	// or refused; nil logs nothing.
	Log *slog.Logger
}

// newClientConns is how many connections an address may hold and still
// take one of the Reserved places: a browser opens up to six to a host,
// and a fresh client one.
const newClientConns = 4

// LogEvery is the least time between two log lines of a Listener.
const LogEvery = 10 * time.Second

// newGrace is how long a connection that has sent nothing yet is spared:
// a client connects and writes its request at once, so one still silent
// after this long is as good as idle.
const newGrace = time.Second

// Listener is a net.Listener that keeps the connections it accepted
// within the budget. Its ConnState must be the http.Server's ConnState,
// so that it knows which connections are idle.
type Listener struct {
	net.Listener
	opts Options

	mu     sync.Mutex
	open   map[*conn]struct{}
	perKey map[netip.Prefix]int
	// shed and refused count what the budget did since the last log line,
	// totalShed and totalRefused since the start.
	shed, refused           int
	totalShed, totalRefused uint64
	logged                  time.Time
}

// New returns a Listener on ln.
func New(ln net.Listener, o Options) *Listener {
	o.Max = max(o.Max, 1)
	return &Listener{Listener: ln, opts: o, open: map[*conn]struct{}{}, perKey: map[netip.Prefix]int{}}
}

// conn is an accepted connection and what the budget knows of it.
type conn struct {
	net.Conn
	l *Listener
	// ip is the peer's address, key what the per-address cap counts.
	ip  netip.Addr
	key netip.Prefix
	// idleSince is when the connection became idle (or was accepted,
	// while it has sent nothing); zero while a request is being served.
	idleSince time.Time
	// served is true once the connection has carried a request.
	served    bool
	closeOnce sync.Once
}

// Close closes the connection and gives its place back.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.l.remove(c) })
	return err
}

// Accept waits for a connection that fits the budget, making room by
// closing the longest-idle one when it must.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, key := keyOf(nc.RemoteAddr())
		c := &conn{Conn: nc, l: l, ip: ip, key: key, idleSince: time.Now()}
		victim, ok := l.admit(c)
		if victim != nil {
			_ = victim.Close()
		}
		if ok {
			return c, nil
		}
		_ = nc.Close()
	}
}

// admit counts c in when it fits, or when an idle connection can be
// closed to make room (returned, for the caller to close outside the
// lock); it reports false when c must be refused.
func (l *Listener) admit(c *conn) (victim *conn, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.maybeLog()
	exempt := l.opts.Exempt != nil && l.opts.Exempt(c.ip)
	held := l.perKey[c.key]
	ownCap := !exempt && (l.opts.PerAddress > 0 && held >= l.opts.PerAddress ||
		l.opts.Reserved > 0 && len(l.open) >= l.opts.Max-l.opts.Reserved && held >= newClientConns)
	switch {
	case ownCap:
		victim = l.idlest(func(o *conn) bool { return o.key == c.key })
	case len(l.open) >= l.opts.Max:
		victim = l.idlest(func(*conn) bool { return true })
	}
	full := ownCap || len(l.open) >= l.opts.Max
	if full && victim == nil {
		l.refused++
		l.totalRefused++
		return nil, false
	}
	if victim != nil {
		// Counted out now, so that the next Accept sees the room even
		// before the victim's Close has run.
		l.forget(victim)
		l.shed++
		l.totalShed++
	}
	l.open[c] = struct{}{}
	l.perKey[c.key]++
	return victim, true
}

// idlest returns the connection among those matching that has been idle
// longest, or nil when none may be shed.
func (l *Listener) idlest(match func(*conn) bool) *conn {
	var best *conn
	now := time.Now()
	for o := range l.open {
		if !o.sheddable(now) || !match(o) {
			continue
		}
		if best == nil || o.idleSince.Before(best.idleSince) {
			best = o
		}
	}
	return best
}

// sheddable reports whether c may be closed to make room: it is idle
// between two requests, or has sent nothing for newGrace since it was
// accepted. A connection serving a request never is.
func (c *conn) sheddable(now time.Time) bool {
	return !c.idleSince.IsZero() && (c.served || now.Sub(c.idleSince) >= newGrace)
}

func (l *Listener) remove(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forget(c)
}

// forget counts c out, once.
func (l *Listener) forget(c *conn) {
	if _, ok := l.open[c]; !ok {
		return
	}
	delete(l.open, c)
	if l.perKey[c.key]--; l.perKey[c.key] <= 0 {
		delete(l.perKey, c.key)
	}
}

// ConnState tracks which connections are idle; set it as the
// http.Server's ConnState.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateActive:
		c.idleSince = time.Time{}
		c.served = true
	case http.StateIdle:
		c.idleSince = time.Now()
	case http.StateHijacked, http.StateClosed:
		l.forget(c)
	}
}

// maybeLog logs what the budget did, at most every LogEvery. The caller
// holds l.mu.
func (l *Listener) maybeLog() {
	if l.opts.Log == nil || l.shed+l.refused == 0 || time.Since(l.logged) < LogEvery {
		return
	}
	l.opts.Log.Warn("connection budget reached: idle connections closed to make room, new ones refused when none was idle",
		"open", len(l.open), "max", l.opts.Max, "per_address", l.opts.PerAddress, "shed", l.shed, "refused", l.refused)
	l.shed, l.refused, l.logged = 0, 0, time.Now()
}

// Max is the cap on open connections in force.
func (l *Listener) Max() int { return l.opts.Max }

// Stats returns how many connections are open, how many were closed to
// make room and how many were refused, since the start.
func (l *Listener) Stats() (open int, shed, refused uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open), l.totalShed, l.totalRefused
}

// keyOf returns a peer's IP (IPv4-mapped addresses as IPv4, without a
// zone) and its per-address key: the IP, or its /64 for IPv6, which one
// host usually holds whole. A peer that is not IP (a test's pipe) has
// the zero key, which all such peers share.
func keyOf(a net.Addr) (netip.Addr, netip.Prefix) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, netip.Prefix{}
	}
	ip := ap.Addr().Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return ip, p
}
