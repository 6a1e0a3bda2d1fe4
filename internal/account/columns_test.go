package account

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"accounts/ent"
)

// TestNullableColumnNeedsPointer checks the start-up guard: a field of
// User whose column is nullable but whose type cannot hold NULL (the
// issue's Optional().Default("") string) is refused before any request
// could fail to scan it.
func TestNullableColumnNeedsPointer(t *testing.T) {
	t.Parallel()
	type badUser struct {
		DisplayName string `json:"display_name"`
	}
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "column display_name is nullable") {
			t.Fatalf("fieldsOf(badUser) panicked with %q, want the nullable column named", msg)
		}
	}()
	fieldsOf(reflect.TypeFor[badUser]())
}

// TestSetOptional checks that every optional field of NewUser reaches
// Ent's mutation when given, with Ent's own type for its column, and
// stays unset when nil.
func TestSetOptional(t *testing.T) {
	t.Parallel()
	if len(newUserFields) == 0 {
		t.Fatal("NewUser has no optional field")
	}
	var n NewUser
	v := reflect.ValueOf(&n).Elem()
	for _, f := range newUserFields {
		p := reflect.New(v.Field(f.index).Type().Elem())
		v.Field(f.index).Set(p)
	}
	m := ent.NewClient().User.Create().Mutation()
	if err := n.setOptional(m); err != nil {
		t.Fatal(err)
	}
	for _, f := range newUserFields {
		if _, ok := m.Field(f.column); !ok {
			t.Errorf("%s: not set", f.column)
		}
	}
	empty := ent.NewClient().User.Create().Mutation()
	if err := (NewUser{}).setOptional(empty); err != nil || len(empty.Fields()) != 0 {
		t.Fatalf("a NewUser without optional fields set %v (err %v)", empty.Fields(), err)
	}
}

// TestNullReadsAsNil sets display_name to NULL behind the service's back
// and reads the user through every read of the domain: the hand-built
// statements (Get, Authenticate) and Ent's (ByID, List, Operator.List,
// the login). Each returns the user with a nil DisplayName; a set one
// reads back.
func TestNullReadsAsNil(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	admin, err := f.users.CreateSuperAdmin(ctx, NewUser{Username: "nulladmin", Password: "admin-password"})
	if err != nil {
		t.Fatal(err)
	}
	name := "Named One"
	named, err := f.users.Create(ctx, admin, NewUser{Username: "named1", Password: "named-password", DisplayName: &name})
	if err != nil || named.DisplayName == nil || *named.DisplayName != name {
		t.Fatalf("Create with a display name: %+v, %v", named, err)
	}
	if _, err := f.db.Ent.ExecContext(ctx, `UPDATE users SET display_name = NULL WHERE id = $1`, admin.ID); err != nil {
		t.Fatal(err)
	}
	l, err := f.sessions.Login(ctx, Credentials{Username: "nulladmin", Password: "admin-password"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.sessions.Authenticate(ctx, l.Token)
	if err != nil {
		t.Fatal(err)
	}
	reads := map[string]func() (User, error){
		"Login":        func() (User, error) { return l.User, nil },
		"Authenticate": func() (User, error) { return p.User, nil },
		"Get":          func() (User, error) { return f.users.Get(ctx, Principal{User: admin}, admin.ID) },
		"ByID":         func() (User, error) { return f.users.ByID(ctx, admin.ID) },
		"List": func() (User, error) {
			page, err := f.users.List(ctx, admin, ListParams{Limit: 10, Sort: "created_at"})
			return findUser(page.Users, admin.ID), err
		},
		"Operator.List": func() (User, error) {
			users, err := f.users.Operator().List(ctx, ListFilter{})
			return findUser(users, admin.ID), err
		},
	}
	for what, read := range reads {
		u, err := read()
		if err != nil || u.ID != admin.ID || u.DisplayName != nil {
			t.Errorf("%s: %+v, %v; want the user with a nil DisplayName", what, u, err)
		}
	}
	if u, err := f.users.Get(ctx, Principal{User: admin}, named.ID); err != nil || u.DisplayName == nil || *u.DisplayName != name {
		t.Errorf("Get of the named user: %+v, %v", u, err)
	}
}

func findUser(users []User, id uuid.UUID) User {
	for _, u := range users {
		if u.ID == id {
			return u
		}
	}
	return User{}
}

// TestValidateDisplayName checks the display name rule at its edges.
func TestValidateDisplayName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"Ann":                     true,
		strings.Repeat("é", 64):   true,
		strings.Repeat("é", 65):   false,
		"":                        false,
		"tab\there":               false,
		"nul\x00":                 false,
		"c1\u0085":                false,
		"bad utf-8 \xff":          false,
		"Zoë O'Brien-Ålund (she)": true,
	} {
		if got := ValidateDisplayName(name) == ""; got != ok {
			t.Errorf("ValidateDisplayName(%q) valid = %t, want %t", name, got, ok)
		}
	}
}
