package password

import (
	"context"
	"sync"
	"time"
)

type principalKey struct{}

// WithPrincipal returns ctx naming who a hash made with it is for (a
// client address): the hashing slots are shared fairly among principals.
// Hashes without one share the principal "".
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

func principalOf(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(string)
	return p
}

// slots hands out the hashing slots fairly. A principal that holds a slot
// takes another only while a further one stays free, so one principal
// never holds them all and a newcomer finds a slot at once; the slots
// freed are handed to the waiting principals in turn (round robin), each
// principal's waiters first come, first served, so a principal with many
// requests waiting gets no more turns than one with a single request.
type slots struct {
	mu       sync.Mutex
	capacity int
	inUse    int
	held     map[string]int
	// queues holds the waiters of each principal; turn lists the
	// principals with waiters, the next to be served first.
	queues map[string][]*waiter
	turn   []string
}

type waiter struct {
	principal string
	ready     chan struct{}
	granted   bool
}

func newSlots(capacity int) *slots {
	return &slots{capacity: capacity, held: map[string]int{}, queues: map[string][]*waiter{}}
}

// admissible reports whether p may take a slot now.
func (s *slots) admissible(p string) bool {
	free := s.capacity - s.inUse
	return free > 0 && (s.held[p] == 0 || free > 1)
}

func (s *slots) take(p string) {
	s.inUse++
	s.held[p]++
}

// acquire takes a slot for the principal of ctx, waiting at most maxWait;
// it reports false when none was had in time (or ctx ended: then err).
func (s *slots) acquire(ctx context.Context, maxWait time.Duration) (bool, error) {
	p := principalOf(ctx)
	s.mu.Lock()
	if len(s.turn) == 0 && s.admissible(p) {
		s.take(p)
		s.mu.Unlock()
		return true, nil
	}
	w := &waiter{principal: p, ready: make(chan struct{})}
	if len(s.queues[p]) == 0 {
		s.turn = append(s.turn, p)
	}
	s.queues[p] = append(s.queues[p], w)
	s.dispatch()
	s.mu.Unlock()
	t := time.NewTimer(maxWait)
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		return true, nil
	case <-t.C:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		// Handed a slot as the wait ended: the caller gives up, so the
		// slot goes to the next.
		s.releaseLocked(p)
	} else {
		s.dequeue(w)
	}
	return false, err
}

// dispatch hands free slots to waiters, one principal's turn at a time.
// s.mu is held.
func (s *slots) dispatch() {
	for i := 0; i < len(s.turn) && s.inUse < s.capacity; {
		p := s.turn[i]
		if !s.admissible(p) {
			i++
			continue
		}
		q := s.queues[p]
		w := q[0]
		s.queues[p] = q[1:]
		s.take(p)
		w.granted = true
		close(w.ready)
		// p's turn is over: it goes last, or out when it has no waiter.
		s.turn = append(s.turn[:i], s.turn[i+1:]...)
		if len(s.queues[p]) > 0 {
			s.turn = append(s.turn, p)
		} else {
			delete(s.queues, p)
		}
		i = 0
	}
}

// dequeue removes w, which gave up waiting. s.mu is held.
func (s *slots) dequeue(w *waiter) {
	q := s.queues[w.principal]
	for i, x := range q {
		if x == w {
			q = append(q[:i], q[i+1:]...)
			break
		}
	}
	if len(q) > 0 {
		s.queues[w.principal] = q
		return
	}
	delete(s.queues, w.principal)
	for i, p := range s.turn {
		if p == w.principal {
			s.turn = append(s.turn[:i], s.turn[i+1:]...)
			break
		}
	}
}

func (s *slots) release(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(p)
}

func (s *slots) releaseLocked(p string) {
	s.inUse--
	if s.held[p]--; s.held[p] == 0 {
		delete(s.held, p)
	}
	s.dispatch()
}

// used is how many slots are taken.
func (s *slots) used() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inUse
}
