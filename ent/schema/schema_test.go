package schema_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"accounts/ent"
	"accounts/ent/user"
	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/testdb"

	_ "accounts/ent/runtime" // registers the schema's defaults and hooks
)

func client(t *testing.T) *ent.Client {
	t.Helper()
	d := config.Default().Database
	d.URL = testdb.URL(t)
	d.PoolSize = 1
	db, err := database.Open(context.Background(), d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db.Ent
}

func newUser(t *testing.T, c *ent.Client, name string) *ent.User {
	t.Helper()
	u, err := c.User.Create().SetUsername(name).SetPasswordHash([]byte("x")).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestIDsAreUUIDv7InCreationOrder checks that ids sort the way rows were
// created, which keyset paging and index locality rely on.
func TestIDsAreUUIDv7InCreationOrder(t *testing.T) {
	t.Parallel()
	c := client(t)
	var ids []uuid.UUID
	for i := range 30 {
		u := newUser(t, c, "user"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		if u.ID.Version() != 7 {
			t.Fatalf("id %s is version %d, want 7", u.ID, u.ID.Version())
		}
		ids = append(ids, u.ID)
	}
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(ids, sorted) {
		t.Fatalf("ids do not sort by creation time:\n%v\n%v", ids, sorted)
	}
	got, err := c.User.Query().Order(ent.Asc(user.FieldID)).IDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("ORDER BY id in PostgreSQL differs from creation order")
	}
}

// TestRoleIsNativeEnum checks the type and values in the database itself.
func TestRoleIsNativeEnum(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	var values, udt, def string
	if err := db.QueryRow(`SELECT enum_range(NULL::userrole)::text`).Scan(&values); err != nil {
		t.Fatal(err)
	}
	if values != "{USER,ADMIN,SUPER_ADMIN}" {
		t.Fatalf("userrole values = %s", values)
	}
	if err := db.QueryRow(`SELECT udt_name, column_default FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'role'`).Scan(&udt, &def); err != nil {
		t.Fatal(err)
	}
	if udt != "userrole" || def != "'USER'::userrole" {
		t.Fatalf("users.role is %s default %s", udt, def)
	}
	if _, err := db.Exec(`INSERT INTO users (id, username, password_hash, role) VALUES (gen_random_uuid(), 'mallory', '\x00', 'ROOT')`); err == nil {
		t.Fatal("the database accepted a role outside the enum")
	}
	c := client(t)
	u := newUser(t, c, "defaultrole")
	if u.Role != user.RoleUSER || !u.IsActive {
		t.Fatalf("defaults: role %s active %v", u.Role, u.IsActive)
	}
}

// TestDeleteDeactivates checks that no delete through the client removes a
// row: both DeleteOne and a bulk Delete turn into is_active=false.
func TestDeleteDeactivates(t *testing.T) {
	t.Parallel()
	c := client(t)
	ctx := context.Background()
	a, b, keep := newUser(t, c, "alice"), newUser(t, c, "bobby"), newUser(t, c, "carol")
	time.Sleep(5 * time.Millisecond)
	if err := c.User.DeleteOne(a).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := c.User.Delete().Where(user.Username("bobby")).Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("bulk delete affected %d rows, want 1", n)
	}
	all, err := c.User.Query().Order(ent.Asc(user.FieldID)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d rows left, want all 3", len(all))
	}
	for _, u := range all {
		wantActive := u.ID == keep.ID
		if u.IsActive != wantActive {
			t.Errorf("%s active=%v, want %v", u.Username, u.IsActive, wantActive)
		}
		before := map[uuid.UUID]time.Time{a.ID: a.UpdatedAt, b.ID: b.UpdatedAt, keep.ID: keep.UpdatedAt}[u.ID]
		if !wantActive && !u.UpdatedAt.After(before) {
			t.Errorf("%s updated_at not bumped by the delete: %s -> %s", u.Username, before, u.UpdatedAt)
		}
	}
}

// TestTimestamps checks that an update moves updated_at and never created_at.
func TestTimestamps(t *testing.T) {
	t.Parallel()
	c := client(t)
	ctx := context.Background()
	u := newUser(t, c, "timely")
	time.Sleep(5 * time.Millisecond)
	v, err := c.User.UpdateOne(u).SetRole(user.RoleADMIN).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.User.Get(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(u.CreatedAt.Truncate(time.Microsecond)) && !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("created_at moved: %s -> %s", u.CreatedAt, got.CreatedAt)
	}
	if !v.UpdatedAt.After(u.UpdatedAt) || !got.UpdatedAt.After(u.UpdatedAt) {
		t.Errorf("updated_at not moved: %s -> %s", u.UpdatedAt, got.UpdatedAt)
	}
}

// TestUsernameUniqueWithoutCase checks the expression index.
func TestUsernameUniqueWithoutCase(t *testing.T) {
	t.Parallel()
	c := client(t)
	newUser(t, c, "Alice")
	_, err := c.User.Create().SetUsername("aLICE").SetPasswordHash([]byte("x")).Save(context.Background())
	if !ent.IsConstraintError(err) {
		t.Fatalf("second Alice: err = %v, want a constraint error", err)
	}
}
