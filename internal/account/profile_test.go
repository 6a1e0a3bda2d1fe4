package account

import (
	"fmt"
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
