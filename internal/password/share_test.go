package password

import (
	"context"
	"testing"
	"time"
)

// TestOnePrincipalLeavesASlot (issue 29, finding 2): a principal holding
// a slot does not take the last free one; another principal does, at once.
func TestOnePrincipalLeavesASlot(t *testing.T) {
	t.Parallel()
	s := newSlots(2)
	hog, victim := WithPrincipal(context.Background(), "hog"), WithPrincipal(context.Background(), "victim")
	if ok, _ := s.acquire(hog, time.Second); !ok {
		t.Fatal("the first slot was refused")
	}
	if ok, _ := s.acquire(hog, 20*time.Millisecond); ok {
		t.Fatal("one principal took both slots")
	}
	start := time.Now()
	if ok, _ := s.acquire(victim, time.Second); !ok || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("another principal waited %v for the free slot (got it: %v)", time.Since(start), ok)
	}
}

// TestSlotsServePrincipalsInTurn: freed slots go to the waiting
// principals in turn, however many requests one of them queues.
func TestSlotsServePrincipalsInTurn(t *testing.T) {
	t.Parallel()
	s := newSlots(1)
	holder := WithPrincipal(context.Background(), "holder")
	if ok, _ := s.acquire(holder, time.Second); !ok {
		t.Fatal("the free slot was refused")
	}
	got := make(chan string, 5)
	wait := func(p string) {
		ctx := WithPrincipal(context.Background(), p)
		if ok, _ := s.acquire(ctx, 10*time.Second); ok {
			got <- p
			time.Sleep(5 * time.Millisecond)
			s.release(p)
		}
	}
	queued := func(n int) {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			s.mu.Lock()
			k := 0
			for _, q := range s.queues {
				k += len(q)
			}
			s.mu.Unlock()
			if k == n {
				return
			}
		}
		t.Fatalf("%d waiters did not queue", n)
	}
	for i := range 4 {
		go wait("hog")
		queued(i + 1)
	}
	go wait("victim")
	queued(5)
	s.release("holder")
	var order []string
	for range 5 {
		order = append(order, <-got)
	}
	if order[0] != "hog" || order[1] != "victim" {
		t.Fatalf("slots went to %v: the victim, queued after four requests of one hog, should be second", order)
	}
}
