// Package throttle limits repeated failures per key, such as failed logins
// per username or per client address, within a fixed time window.
package throttle

import (
	"sync"
	"time"
)

// Limiter counts failures per key. A key that reached Max failures within
// one window is blocked until that window ends. It is safe for concurrent
// use, and it forgets keys whose window has passed, so an attacker cycling
// through names or addresses cannot grow it without bound for long.
//
// The counts live in memory: each replica of the service throttles on its
// own, which bounds guessing to replicas × Max per window.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	entries   map[string]*entry
	nextSweep int
}

type entry struct {
	start    time.Time
	failures int
}

// New returns a Limiter that blocks a key after max failures within
// window. max <= 0 disables it: Check always allows. now is the clock (nil
// means time.Now).
func New(max int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{max: max, window: window, now: now, entries: map[string]*entry{}, nextSweep: 1024}
}

// Check returns zero when key may try again now, and otherwise how long
// until it may.
func (l *Limiter) Check(key string) time.Duration {
	if l == nil || l.max <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		return 0
	}
	now := l.now()
	end := e.start.Add(l.window)
	if !now.Before(end) {
		delete(l.entries, key)
		return 0
	}
	if e.failures >= l.max {
		return end.Sub(now)
	}
	return 0
}

// Fail records one failure of key.
func (l *Limiter) Fail(key string) {
	if l == nil || l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e, ok := l.entries[key]
	if !ok || !now.Before(e.start.Add(l.window)) {
		if !ok && len(l.entries) >= l.nextSweep {
			l.sweep(now)
		}
		e = &entry{start: now}
		l.entries[key] = e
	}
	e.failures++
}

// Reset forgets the failures of key, after a success.
func (l *Limiter) Reset(key string) {
	if l == nil || l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// sweep drops every key whose window has passed. It runs when the map has
// doubled since the last sweep, so its cost is amortised over inserts.
func (l *Limiter) sweep(now time.Time) {
	for k, e := range l.entries {
		if !now.Before(e.start.Add(l.window)) {
			delete(l.entries, k)
		}
	}
	l.nextSweep = max(1024, 2*len(l.entries))
}
