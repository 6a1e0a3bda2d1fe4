package account

import (
	"context"
	"testing"

	"accounts/ent/auditevent"
)

// TestAdminReadsAudited (issue 29, finding 8): an admin's read of another
// user, and a list of users, leave a row in the trail, once per admin and
// target (or filter) in a while, not one per request; reading oneself
// leaves none.
func TestAdminReadsAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	admin, err := f.users.CreateSuperAdmin(ctx, NewUser{Username: "admin1", Password: "admin-password"})
	if err != nil {
		t.Fatal(err)
	}
	target, err := f.users.SignUp(ctx, NewUser{Username: "target1", Password: "target-password"})
	if err != nil {
		t.Fatal(err)
	}
	count := func(action string) int {
		n, err := f.db.Ent.AuditEvent.Query().Where(auditevent.Action(action), auditevent.ActorID(admin.ID)).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 3 {
		if _, err := f.users.Get(ctx, Principal{User: admin}, target.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.users.Get(ctx, Principal{User: admin}, admin.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.users.List(ctx, admin, ListParams{Limit: 10, Sort: "created_at"}); err != nil {
			t.Fatal(err)
		}
	}
	if v, l := count("user.viewed"), count("users.listed"); v != 1 || l != 1 {
		t.Fatalf("three reads of another user and three lists left %d user.viewed and %d users.listed rows, want 1 and 1", v, l)
	}
	n, err := f.db.Ent.AuditEvent.Query().Where(auditevent.Action("user.viewed"), auditevent.TargetID(admin.ID)).Count(ctx)
	if err != nil || n != 0 {
		t.Fatalf("an admin's read of itself left %d rows (%v), want none", n, err)
	}
}
