package account

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"accounts/ent"
	entmigrate "accounts/ent/migrate"
	entuser "accounts/ent/user"
)

// A user's public columns are the fields of User: each field's json tag is
// both the API's property name and the users table's column name. From
// that one declaration come the columns the prebuilt statements select,
// the destination of each column when a row is scanned (by its name), and
// the copy out of an Ent node. Adding a field to User (with the column in
// the Ent schema) is all it takes for reads to carry it. A nullable column
// (Ent's Optional) must be a pointer field, so that a NULL scans as nil
// and never fails a read; fieldsOf refuses anything else at start-up.
// Likewise a pointer field of NewUser is an optional column that create
// sets when the field is not nil.

// userField is one field of User and the column that holds it.
type userField struct {
	column string
	index  int // in User
	isTime bool
}

var (
	userFields = fieldsOf(reflect.TypeFor[User]())
	// newUserFields are the optional columns a NewUser sets.
	newUserFields = optionalFieldsOf(reflect.TypeFor[NewUser]())
	// userFieldOf finds a field by its column name.
	userFieldOf = func() map[string]userField {
		m := make(map[string]userField, len(userFields))
		for _, f := range userFields {
			m[f.column] = f
		}
		return m
	}()
)

// nullableColumns are the columns of users that may hold NULL.
var nullableColumns = func() map[string]bool {
	m := make(map[string]bool)
	for _, c := range entmigrate.UsersColumns {
		m[c.Name] = c.Nullable
	}
	return m
}()

// fieldsOf reads the column of each field of User. It panics at start-up
// when a field names no column of the users table, or names the hash, or
// is not a pointer while its column is nullable, so a mistake cannot
// reach a request.
func fieldsOf(t reflect.Type) []userField {
	var out []userField
	for i := range t.NumField() {
		f := t.Field(i)
		col, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !slices.Contains(entuser.Columns, col) || col == entuser.FieldPasswordHash {
			panic(fmt.Sprintf("account.%s.%s: json tag %q is not a public column of %s", t.Name(), f.Name, col, entuser.Table))
		}
		if nullableColumns[col] && f.Type.Kind() != reflect.Pointer {
			panic(fmt.Sprintf("account.%s.%s: column %s is nullable (Ent's Optional), so a NULL would fail its scan; make the field a pointer (and the Ent field Nillable)",
				t.Name(), f.Name, col))
		}
		isTime := f.Type == reflect.TypeFor[time.Time]() || f.Type == reflect.TypeFor[*time.Time]()
		out = append(out, userField{column: col, index: i, isTime: isTime})
	}
	return out
}

// optionalFieldsOf reads the pointer fields of NewUser: each must name a
// nullable public column.
func optionalFieldsOf(t reflect.Type) []userField {
	var out []userField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() != reflect.Pointer {
			continue // set by create itself
		}
		col, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !nullableColumns[col] || col == entuser.FieldPasswordHash {
			panic(fmt.Sprintf("account.%s.%s: json tag %q is not an optional column of %s", t.Name(), f.Name, col, entuser.Table))
		}
		out = append(out, userField{column: col, index: i})
	}
	return out
}

// setOptional sets on m each optional column that n gives (a pointer
// field that is not nil).
func (n NewUser) setOptional(m *ent.UserMutation) error {
	v := reflect.ValueOf(n)
	for _, f := range newUserFields {
		if p := v.Field(f.index); !p.IsNil() {
			if err := m.SetField(f.column, p.Elem().Interface()); err != nil {
				return fmt.Errorf("account.NewUser: %w", err)
			}
		}
	}
	return nil
}

// userColumnNames are the public columns, in User's field order.
func userColumnNames() []string {
	cols := make([]string, len(userFields))
	for i, f := range userFields {
		cols[i] = f.column
	}
	return cols
}

// userDest returns where the column named col goes in u.
func userDest(u *User, col string) (any, bool) {
	f, ok := userFieldOf[col]
	if !ok {
		return nil, false
	}
	return reflect.ValueOf(u).Elem().Field(f.index).Addr().Interface(), true
}

// inUTC puts every time of u in UTC, the zone the API shows.
func inUTC(u *User) {
	v := reflect.ValueOf(u).Elem()
	for _, f := range userFields {
		if !f.isTime {
			continue
		}
		switch t := v.Field(f.index).Addr().Interface().(type) {
		case *time.Time:
			*t = t.UTC()
		case **time.Time:
			if *t != nil {
				utc := (*t).UTC()
				*t = &utc
			}
		}
	}
}

// entFields pairs each field of User with the same-named field of Ent's
// node, whose Go names Ent derives from the same columns.
var entFields = func() []int {
	et := reflect.TypeFor[ent.User]()
	ut := reflect.TypeFor[User]()
	idx := make([]int, len(userFields))
	for i, f := range userFields {
		ef, ok := et.FieldByName(ut.Field(f.index).Name)
		if !ok || len(ef.Index) != 1 {
			panic(fmt.Sprintf("ent.User has no field %s", ut.Field(f.index).Name))
		}
		idx[i] = ef.Index[0]
	}
	return idx
}()

// fromEnt copies the public fields of an Ent node; the hash stays behind.
func fromEnt(n *ent.User) User {
	var u User
	uv, nv := reflect.ValueOf(&u).Elem(), reflect.ValueOf(n).Elem()
	for i, f := range userFields {
		src, dst := nv.Field(entFields[i]), uv.Field(f.index)
		if r, ok := src.Interface().(entuser.Role); ok {
			dst.Set(reflect.ValueOf(roleFromEnt(r)))
			continue
		}
		dst.Set(src.Convert(dst.Type()))
	}
	inUTC(&u)
	return u
}

// Scan reads a role as the database stores it (the userrole enum, USER,
// ADMIN or SUPER_ADMIN), so a row scans straight into User.
func (r *Role) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("account.Role: cannot scan %T", src)
	}
	*r = roleFromEnt(entuser.Role(s))
	if !r.Valid() {
		return fmt.Errorf("account.Role: unknown role %q", s)
	}
	return nil
}
