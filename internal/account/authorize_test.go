package account

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// TestAuthorizeMatrix walks every caller role × target role × action, plus
// acting on oneself, and states the expected outcome of each cell from the
// rules of the API reference rather than from the code: super_admin manages
// admin and user, admin manages user, user manages nobody; nobody acts on a
// super admin or on themselves; only super admins grant or revoke admin;
// super_admin is never created through the API (422).
func TestAuthorizeMatrix(t *testing.T) {
	t.Parallel()
	roles := []Role{RoleUser, RoleAdmin, RoleSuperAdmin}
	for _, callerRole := range roles {
		for _, targetRole := range roles {
			for _, action := range Actions {
				for _, self := range []bool{false, true} {
					if self && callerRole != targetRole {
						continue
					}
					if action == ActionCreateUser && self {
						continue // creating oneself is not a thing
					}
					checkAuthorizeCell(t, callerRole, targetRole, action, self)
				}
			}
		}
	}
}

// authorizeManages is who manages whom, from the API reference.
var authorizeManages = map[Role][]Role{RoleSuperAdmin: {RoleAdmin, RoleUser}, RoleAdmin: {RoleUser}}

// canManage reports whether a caller of role c manages a target of role t.
func canManage(c, t Role) bool {
	for _, r := range authorizeManages[c] {
		if r == t {
			return true
		}
	}
	return false
}

// wantAuthorize states the outcome the API reference gives a caller of
// callerRole taking action on a target of targetRole (or on themselves
// when self): the empty code for allowed, otherwise the refusal's code.
func wantAuthorize(callerRole, targetRole Role, action Action, self bool) Code {
	isAdmin := callerRole != RoleUser
	switch action {
	case ActionViewUsers:
		if !isAdmin {
			return CodeForbidden
		}
	case ActionCreateUser:
		switch {
		case !isAdmin:
			return CodeForbidden
		case targetRole == RoleSuperAdmin:
			return CodeValidationFailed
		case !canManage(callerRole, targetRole):
			return CodeForbidden
		}
	case ActionReadAudit:
		if callerRole != RoleSuperAdmin {
			return CodeForbidden
		}
	case ActionGrantAdmin, ActionRevokeAdmin:
		if callerRole != RoleSuperAdmin || self || !canManage(callerRole, targetRole) {
			return CodeForbidden
		}
	default:
		if !isAdmin || self || !canManage(callerRole, targetRole) {
			return CodeForbidden
		}
	}
	return ""
}

// checkAuthorizeCell runs Authorize for one cell of the matrix, with fresh
// active users of the two roles (the same user when self), and reports an
// error unless its code is the one wantAuthorize states.
func checkAuthorizeCell(t *testing.T, callerRole, targetRole Role, action Action, self bool) {
	t.Helper()
	name := fmt.Sprintf("%s/%s/%s/self=%v", callerRole, action, targetRole, self)
	caller := User{ID: uuid.New(), Role: callerRole, IsActive: true}
	target := User{ID: uuid.New(), Role: targetRole, IsActive: true}
	if self {
		target = caller
	}
	want := wantAuthorize(callerRole, targetRole, action, self)
	got := ErrorCode(Authorize(caller, action, target))
	if got != want {
		t.Errorf("%s: got %q, want %q", name, got, want)
	}
}

// TestAuthorizeInactiveCaller: an inactive admin is refused everything,
// even though the HTTP layer never lets one get this far.
func TestAuthorizeInactiveCaller(t *testing.T) {
	t.Parallel()
	caller := User{ID: uuid.New(), Role: RoleSuperAdmin}
	for _, a := range Actions {
		if got := ErrorCode(Authorize(caller, a, User{ID: uuid.New(), Role: RoleUser})); got != CodeForbidden {
			t.Errorf("%s by inactive super admin: %q, want forbidden", a, got)
		}
	}
}

func TestValidateUsername(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"alice": true, "Alice.B": true, "a_b-c.d": true, "12345": true, "abcd": false,
		"abcdefghijklmnopqrstuvwxyz012345": true, "abcdefghijklmnopqrstuvwxyz0123456": false,
		".alice": false, "alice.": false, "al..ice": false, "al._ice": false, "al ice": false,
		"alïce": false, "al'ice": false, "": false, "al;--": false, "ab\x00cd": false,
	} {
		if got := ValidateUsername(name) == ""; got != ok {
			t.Errorf("ValidateUsername(%q) valid=%v, want %v (%s)", name, got, ok, ValidateUsername(name))
		}
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	long := make([]rune, 128)
	for i := range long {
		long[i] = 'é'
	}
	for pw, ok := range map[string]bool{
		"1234567": false, "12345678": true, string(long): true, string(long) + "x": false,
		"ééééééé": false, "éééééééé": true, "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8": false,
	} {
		if got := ValidatePassword(pw) == ""; got != ok {
			t.Errorf("ValidatePassword(%q) valid=%v, want %v", pw, got, ok)
		}
	}
}
