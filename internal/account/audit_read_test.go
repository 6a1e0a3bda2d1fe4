package account

import (
	"context"
	"testing"
	"time"
)

// TestAuditListAndPurge pages through the trail with filters, then purges
// in batches what is older than a cutoff and keeps the rest.
func TestAuditListAndPurge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	audit := NewAudit(f.db)
	var ids []User
	for _, name := range []string{"user1", "user2", "user3", "user4", "user5"} {
		u, err := f.users.SignUp(ctx, NewUser{Username: name, Password: "password1"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u)
	}
	var seen []string
	after := ""
	for {
		page, err := audit.List(ctx, AuditFilter{Limit: 2, Action: AuditSignedUp, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			seen = append(seen, e.TargetName)
		}
		if after = page.NextCursor; after == "" {
			break
		}
	}
	if len(seen) != 5 || seen[0] != "user5" || seen[4] != "user1" {
		t.Fatalf("pages, newest first: %v", seen)
	}
	page, err := audit.List(ctx, AuditFilter{Limit: 10, TargetID: &ids[2].ID})
	if err != nil || len(page.Events) != 1 || page.Events[0].TargetName != "user3" {
		t.Fatalf("target filter: %+v, %v", page, err)
	}
	mustCode(t, func() error { _, err := audit.List(ctx, AuditFilter{Limit: 10, Action: "user.exploded"}); return err }(), CodeValidationFailed)
	mustCode(t, Authorize(User{Role: RoleAdmin, IsActive: true}, ActionReadAudit, User{}), CodeForbidden)

	// Age three rows by a year; the purge takes them in batches of two.
	if _, err := f.db.SQL.Exec(`UPDATE audit_events SET occurred_at = occurred_at - interval '1 year' WHERE target_name IN ('user1', 'user2', 'user3')`); err != nil {
		t.Fatal(err)
	}
	cutoff := time.Now().Add(-24 * time.Hour)
	total := 0
	for {
		n, err := audit.Purge(ctx, cutoff, 2)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n < 2 {
			break
		}
	}
	left, err := audit.List(ctx, AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(left.Events) != 2 {
		t.Fatalf("purged %d, left %d; want 3 and 2", total, len(left.Events))
	}
}
