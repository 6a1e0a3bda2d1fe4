package account

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"accounts/ent"
)

// readWindow is how long one admin's reads of one user (or lists with one
// filter) leave a single row in the audit trail: a replica records the
// first read in each window, so paging or polling does not write a row a
// request (GET /users/{id} is the service's busiest read), while the trail
// still shows who looked at whom, and when to within the window.
const readWindow = time.Hour

// readLogMax bounds the reads a replica remembers; past it, it forgets
// them all and records the next reads again: more rows, never fewer.
const readLogMax = 10000

// readLog remembers the reads recorded within readWindow.
type readLog struct {
	mu   sync.Mutex
	seen map[readKey]time.Time
}

// readKey is one read: of the user target by caller, or of a list with a
// filter (list, which names the caller too). Its ids are kept as they
// are, so the key of GET /users/{id}, the busiest read, costs no
// allocation.
type readKey struct {
	caller, target uuid.UUID
	list           string
}

// first reports whether key was not recorded within readWindow before
// now, and notes it as recorded now.
func (l *readLog) first(key readKey, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.seen[key]; ok && now.Sub(at) < readWindow {
		return false
	}
	if l.seen == nil || len(l.seen) >= readLogMax {
		l.seen = map[readKey]time.Time{}
	}
	l.seen[key] = now
	return true
}

// forget drops key, whose row could not be written, so the next read
// records it.
func (l *readLog) forget(key readKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, key)
}

// recordRead writes e, an admin's read, unless the same read (key) was
// recorded within readWindow.
func (s *Users) recordRead(ctx context.Context, key readKey, e auditEntry) error {
	if !s.reads.first(key, s.now()) {
		return nil
	}
	err := withTx(ctx, s.client, func(tx *ent.Tx) error { return record(ctx, tx, e) })
	if err != nil {
		s.reads.forget(key)
	}
	return err
}

// viewed records that caller read target, another user.
func (s *Users) viewed(ctx context.Context, caller, target User) error {
	if caller.ID == target.ID {
		return nil
	}
	return s.recordRead(ctx, readKey{caller: caller.ID, target: target.ID},
		auditEntry{action: AuditUserViewed, actor: &caller, target: target})
}

// listed records that caller listed users with p's filter; the pages of
// one filter are one read.
func (s *Users) listed(ctx context.Context, caller User, p ListParams) error {
	details := map[string]any{"sort": p.Sort, "desc": p.Desc}
	key := fmt.Sprintf("%s:%t", p.Sort, p.Desc)
	if p.Role != nil {
		details["role"] = string(*p.Role)
		key += ":r=" + string(*p.Role)
	}
	if p.IsActive != nil {
		details["is_active"] = *p.IsActive
		key += fmt.Sprintf(":a=%t", *p.IsActive)
	}
	if p.Username != nil {
		details["username"] = *p.Username
		key += ":u=" + *p.Username
	}
	return s.recordRead(ctx, readKey{caller: caller.ID, list: key}, auditEntry{action: AuditUsersListed, actor: &caller, details: details})
}
