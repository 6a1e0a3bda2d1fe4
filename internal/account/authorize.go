package account

import "strings"

// Action is something a caller does through an admin endpoint.
type Action string

// The actions that Authorize decides on.
const (
	// ActionViewUsers reads users: the listing and one user by id.
	ActionViewUsers Action = "view_users"
	// ActionCreateUser creates a user with the target's role.
	ActionCreateUser Action = "create_user"
	// ActionSetPassword sets another user's password.
	ActionSetPassword Action = "set_password"
	// ActionActivate and ActionDeactivate set another user's is_active flag.
	ActionActivate   Action = "activate"
	ActionDeactivate Action = "deactivate"
	// ActionGrantAdmin and ActionRevokeAdmin change a user's role between
	// user and admin.
	ActionGrantAdmin  Action = "grant_admin"
	ActionRevokeAdmin Action = "revoke_admin"
	// ActionEndSessions ends all of another user's sessions.
	ActionEndSessions Action = "end_sessions"
	// ActionReadAudit reads the audit trail.
	ActionReadAudit Action = "read_audit"
	// ActionEditProfile changes another user's profile fields.
	ActionEditProfile Action = "edit_profile"
)

// Actions lists every action, for tests that walk the whole matrix.
var Actions = []Action{
	ActionViewUsers, ActionCreateUser, ActionSetPassword,
	ActionActivate, ActionDeactivate, ActionGrantAdmin, ActionRevokeAdmin, ActionReadAudit,
	ActionEditProfile, ActionEndSessions,
}

// Authorize is the one decision over the role hierarchy: it returns nil
// when caller may perform action on target, and an *Error otherwise
// (CodeForbidden, or CodeValidationFailed for a super_admin role, which the
// API never creates). For ActionCreateUser, target is the user to be
// created and only its Role counts; for ActionViewUsers and ActionReadAudit
// target is ignored.
//
// The rules: only admins and super admins use admin endpoints, and only
// super admins read the audit trail; a caller
// acts only on users whose role theirs manages (super_admin manages admin
// and user, admin manages user), so nobody acts on a super admin; nobody
// acts on themselves; and only a super admin grants or revokes admin.
func Authorize(caller User, action Action, target User) error {
	if !caller.IsActive || !caller.Role.Manages(RoleUser) {
		return Errorf(CodeForbidden, "this action requires the admin role")
	}
	switch action {
	case ActionViewUsers:
		return nil
	case ActionReadAudit:
		if caller.Role != RoleSuperAdmin {
			return Errorf(CodeForbidden, "only a super admin reads the audit trail")
		}
		return nil
	case ActionCreateUser:
		if target.Role == RoleSuperAdmin {
			return &Error{Code: CodeValidationFailed, Message: "the request has invalid fields",
				Fields: []FieldError{{Field: "role", Message: "super_admin cannot be given through the API"}}}
		}
		if !caller.Role.Manages(target.Role) {
			return Errorf(CodeForbidden, "%s cannot create a user with role %s", withArticle(caller.Role), target.Role)
		}
		return nil
	case ActionGrantAdmin, ActionRevokeAdmin:
		if caller.Role != RoleSuperAdmin {
			return Errorf(CodeForbidden, "only a super admin grants or revokes the admin role")
		}
	case ActionSetPassword, ActionActivate, ActionDeactivate, ActionEditProfile, ActionEndSessions:
	default:
		return Errorf(CodeForbidden, "unknown action %q", action)
	}
	if target.ID == caller.ID {
		return Errorf(CodeForbidden, "you cannot do this to your own account; use /account instead")
	}
	if !caller.Role.Manages(target.Role) {
		return Errorf(CodeForbidden, "%s cannot manage a user with role %s", withArticle(caller.Role), target.Role)
	}
	return nil
}

// withArticle is the role with its indefinite article, for messages: "an
// admin", "a user", "a super_admin".
func withArticle(r Role) string {
	if strings.HasPrefix(string(r), "a") {
		return "an " + string(r)
	}
	return "a " + string(r)
}
