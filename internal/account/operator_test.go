package account

import (
	"context"
	"sync"
	"testing"
)

// TestLastSuperAdminGuardRace removes two super admins at once, many
// times: the guard's locks must leave exactly one of them active each
// time, whichever way (deactivation or demotion) each goes.
func TestLastSuperAdminGuardRace(t *testing.T) {
	f := newFixture(t)
	ctx := WithOrigin(context.Background(), Origin{Operator: "test@host"})
	op := f.users.Operator()
	for _, name := range []string{"root1", "root2"} {
		if _, err := f.users.CreateSuperAdmin(ctx, NewUser{Username: name, Password: "password1"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, name := range []string{"root1", "root2"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if (i+j)%2 == 0 {
					_, errs[j] = op.SetActive(ctx, name, false, false)
				} else {
					_, errs[j] = op.SetRole(ctx, name, RoleAdmin, false)
				}
			}()
		}
		wg.Wait()
		n, err := f.users.client.User.Query().Where(activeSuperAdmin()...).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 || (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: %d active super admins left, errors %v", i, n, errs)
		}
		for _, e := range errs {
			if e != nil {
				mustCode(t, e, CodeForbidden)
			}
		}
		// Restore both for the next round.
		for _, name := range []string{"root1", "root2"} {
			if _, err := op.SetRole(ctx, name, RoleSuperAdmin, false); err != nil {
				t.Fatal(err)
			}
			if _, err := op.SetActive(ctx, name, true, false); err != nil {
				t.Fatal(err)
			}
		}
	}
}
