// Package account holds the user-account domain: users, roles and the rules
// over them, login sessions, and the services that act on them on top of
// the Ent client. It knows nothing of HTTP; every service method takes a
// context first and returns *Error for anything a client should see.
package account

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Role is a user's role, as the API spells it.
type Role string

// The roles, from least to most powerful.
const (
	RoleUser       Role = "user"
	RoleAdmin      Role = "admin"
	RoleSuperAdmin Role = "super_admin"
)

// rank orders the roles: a role manages exactly the roles of lower rank.
func (r Role) rank() int {
	switch r {
	case RoleUser:
		return 1
	case RoleAdmin:
		return 2
	case RoleSuperAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Manages reports whether a holder of r may act on a holder of target:
// super_admin manages admin and user, admin manages user, user manages
// nobody, and nobody manages super_admin.
func (r Role) Manages(target Role) bool {
	return r.rank() > target.rank() && target.Valid()
}

// User is an account as the domain sees it and as the API shows it: the
// User schema of the API document (internal/httpapi/openapi.yaml) is this
// type, and its json tags are the schema's property names. It never holds
// the password hash, so it can be logged or encoded without leaking it.
// Times are in UTC. An optional field (a nullable column) is a pointer,
// nil for NULL and null in JSON; columns.go refuses any other type for it.
type User struct {
	ID          uuid.UUID `json:"id"`
	Username    string    `json:"username"`
	DisplayName *string   `json:"display_name"`
	Role        Role      `json:"role"`
	IsActive    bool      `json:"is_active"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Username, password and display name limits.
const (
	UsernameMinLen    = 5
	UsernameMaxLen    = 32
	PasswordMinLen    = 8
	PasswordMaxLen    = 128
	DisplayNameMaxLen = 64
)

// ValidateUsername checks the username rule: 5–32 characters of
// A-Z a-z 0-9 . _ -, starting and ending with a letter or digit, with no two
// of . _ - in a row. It returns a message, or "" when name is valid.
func ValidateUsername(name string) string {
	switch n := utf8.RuneCountInString(name); {
	case n < UsernameMinLen:
		return "must be at least 5 characters"
	case n > UsernameMaxLen:
		return "must be at most 32 characters"
	}
	prevPunct := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		punct := c == '.' || c == '_' || c == '-'
		switch {
		case !alnum && !punct:
			return "may contain only letters A-Z and a-z, digits, '.', '_' and '-'"
		case punct && (i == 0 || i == len(name)-1):
			return "must start and end with a letter or digit"
		case punct && prevPunct:
			return "must not contain two of '.', '_', '-' in a row"
		}
		prevPunct = punct
	}
	return ""
}

// ValidatePassword checks the password rule: 8–128 characters (Unicode
// code points, not bytes). It returns a message, or "" when pw is valid.
func ValidatePassword(pw string) string {
	if !utf8.ValidString(pw) {
		return "must be valid UTF-8"
	}
	switch n := utf8.RuneCountInString(pw); {
	case n < PasswordMinLen:
		return "must be at least 8 characters"
	case n > PasswordMaxLen:
		return "must be at most 128 characters"
	}
	return ""
}

// ValidateDisplayName checks the display name rule: 1 to DisplayNameMaxLen
// characters (Unicode code points), none of them a control character, a
// format character (Unicode's Cf: zero-width and bidi controls, the
// byte-order mark) or a line or paragraph separator, any of which would
// make the name read otherwise than it is stored. It returns a message, or
// "" when name is valid. openapi.yaml's DisplayName schema states the same
// rule (TestDisplayNameRuleMatchesDocument).
func ValidateDisplayName(name string) string {
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return "must be valid UTF-8"
	case n == 0:
		return "must not be empty; leave it out (or null) for none"
	case n > DisplayNameMaxLen:
		return fmt.Sprintf("must be at most %d characters", DisplayNameMaxLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "must not contain control characters"
	case strings.IndexFunc(name, invisible) >= 0:
		return "must not contain invisible format characters (zero-width, bidi controls) or line separators"
	}
	return ""
}

// invisible reports whether r is a format character (Cf) or a line or
// paragraph separator (Zl, Zp).
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// NewUser is what SignUp, Create and CreateSuperAdmin make a user from, and
// the request body of sign-up and of an admin's create (openapi.yaml names
// it with x-go-type). A field a client may set at creation is a field here,
// so adding one changes no signature: a pointer field is an optional
// column, named by its json tag as in User, and create sets it when it is
// not nil (columns.go).
type NewUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Role is the new user's role for Create ("" means user); SignUp and
	// CreateSuperAdmin decide the role themselves and refuse another.
	Role        Role    `json:"role,omitempty"`
	DisplayName *string `json:"display_name,omitempty"`
}

// fixRole sets the role an operation decides, refusing a caller that asked
// for another: a programming error, not a client's.
func (n *NewUser) fixRole(r Role) error {
	if n.Role != "" && n.Role != r {
		return fmt.Errorf("account: NewUser.Role %q where only %q is made", n.Role, r)
	}
	n.Role = r
	return nil
}

// validate checks the fields of a new user, naming each invalid one.
func (n NewUser) validate() error {
	var fe fieldErrors
	if msg := ValidateUsername(n.Username); msg != "" {
		fe.add("username", "%s", msg)
	}
	if msg := ValidatePassword(n.Password); msg != "" {
		fe.add("password", "%s", msg)
	}
	// The profile fields, each by its one rule (profileRules).
	v := reflect.ValueOf(n)
	for _, f := range newUserFields {
		if p := v.Field(f.index); !p.IsNil() {
			if msg := profileRules[f.column](p.Elem().String()); msg != "" {
				fe.add(f.column, "%s", msg)
			}
		}
	}
	return fe.err()
}
