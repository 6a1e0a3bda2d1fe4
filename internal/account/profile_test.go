package account

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	entmigrate "accounts/ent/migrate"
)

// TestDisplayNameColumnHoldsTheRule: the column's varchar length, in the
// Ent schema, is the domain's limit, so every name the rule lets through
// fits and the limit is not a third, drifting number.
func TestDisplayNameColumnHoldsTheRule(t *testing.T) {
	for _, c := range entmigrate.UsersColumns {
		if c.Name != "display_name" {
			continue
		}
		if got, want := c.SchemaType["postgres"], fmt.Sprintf("varchar(%d)", DisplayNameMaxLen); got != want {
			t.Fatalf("display_name is %s in the Ent schema, want %s (DisplayNameMaxLen)", got, want)
		}
		return
	}
	t.Fatal("users has no display_name column")
}

// TestProfilePatchValidate: every profile field has its rule, unknown
// fields and other types are refused, and null clears.
func TestProfilePatchValidate(t *testing.T) {
	for _, f := range ProfileFields() {
		if profileRules[f] == nil {
			t.Errorf("profile field %s has no rule", f)
		}
	}
	for _, c := range []struct {
		p    ProfilePatch
		want []string
	}{
		{ProfilePatch{"display_name": "Alice"}, nil},
		{ProfilePatch{"display_name": nil}, nil},
		{ProfilePatch{}, nil},
		{ProfilePatch{"display_name": ""}, []string{"display_name"}},
		{ProfilePatch{"display_name": 5.0}, []string{"display_name"}},
		{ProfilePatch{"role": "admin", "username": nil}, []string{"role", "username"}},
	} {
		err := c.p.validate()
		var got []string
		if e, ok := err.(*Error); ok {
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%v: fields %v, want %v", c.p, got, c.want)
		}
	}
}

// TestETagAndIfMatch: the tag is strong, changes with any shown field,
// and If-Match matches only the exact strong tag or *.
func TestETagAndIfMatch(t *testing.T) {
	name := "Alice"
	u := User{ID: uuid.New(), Username: "alice", Role: RoleUser, IsActive: true, CreatedAt: time.Unix(1, 0).UTC(), UpdatedAt: time.Unix(2, 0).UTC()}
	tag := u.ETag()
	if tag != u.ETag() || tag[0] != '"' || tag[len(tag)-1] != '"' {
		t.Fatalf("ETag %q is not a stable strong tag", tag)
	}
	v := u
	v.DisplayName = &name
	if v.ETag() == tag {
		t.Fatal("a display name does not change the tag")
	}
	ctx := t.Context()
	for h, ok := range map[string]bool{tag: true, "*": true, `"x", ` + tag: true, "W/" + tag: false, `"x"`: false, "garbage": false} {
		err := checkPrecondition(WithPrecondition(ctx, ParseIfMatch(h)), u)
		if (err == nil) != ok {
			t.Errorf("If-Match %s: %v, want match %v", h, err, ok)
		}
	}
	if err := checkPrecondition(ctx, u); err != nil {
		t.Errorf("no If-Match: %v", err)
	}
}

// TestETagCoversEveryField changes each field of User in turn and wants a
// new tag each time; a field added to User fails it until ETag hashes it.
func TestETagCoversEveryField(t *testing.T) {
	name, other := "Alice", "Alicia"
	base := User{ID: uuid.New(), Username: "alice", DisplayName: &name, Role: RoleUser, IsActive: true,
		CreatedAt: time.Unix(1, 0).UTC(), UpdatedAt: time.Unix(2, 0).UTC()}
	changes := map[string]func(*User){
		"ID":          func(u *User) { u.ID = uuid.New() },
		"Username":    func(u *User) { u.Username = "alicia" },
		"DisplayName": func(u *User) { u.DisplayName = &other },
		"Role":        func(u *User) { u.Role = RoleAdmin },
		"IsActive":    func(u *User) { u.IsActive = false },
		"CreatedAt":   func(u *User) { u.CreatedAt = u.CreatedAt.Add(time.Nanosecond) },
		"UpdatedAt":   func(u *User) { u.UpdatedAt = u.UpdatedAt.In(time.FixedZone("X", 3600)) },
	}
	fields := reflect.VisibleFields(reflect.TypeFor[User]())
	if len(fields) != len(changes) {
		t.Fatalf("User has %d fields and this test changes %d: hash the new field in ETag and change it here", len(fields), len(changes))
	}
	tag := base.ETag()
	for _, f := range fields {
		change, ok := changes[f.Name]
		if !ok {
			t.Fatalf("field %s is not changed by this test", f.Name)
		}
		u := base
		change(&u)
		if u.ETag() == tag {
			t.Errorf("changing %s leaves the tag %s", f.Name, tag)
		}
	}
	none := base
	none.DisplayName = nil
	empty := ""
	blank := base
	blank.DisplayName = &empty
	if none.ETag() == blank.ETag() {
		t.Error("no display name and an empty one share a tag")
	}
}
