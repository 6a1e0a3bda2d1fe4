package database

import (
	_ "embed" // roles.sql
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// rolesSQL sets up the owner and the runtime role of a database; its
// comment says how.
//
//go:embed roles.sql
var rolesSQL string

// Roles are the two roles of a deployment's database: Owner owns the schema
// and runs the migrations; Runtime is the role serve connects as, with the
// rights to read and write rows and no more.
type Roles struct {
	// Database is the database the roles are for; roles.sql runs
	// connected to it.
	Database        string
	Owner           string
	OwnerPassword   string
	Runtime         string
	RuntimePassword string
}

// psqlVariable is a variable of roles.sql as psql interpolates it:
// :"name" as an identifier, :'name' as a literal.
var psqlVariable = regexp.MustCompile(`:"(\w+)"|:'(\w+)'`)

// SQL returns roles.sql with r's values in place of its psql variables,
// quoted as psql quotes them, so that the file run by psql (docker compose,
// docs/security.md's manual set-up) and by this binary (dev, the tests) is one.
func (r Roles) SQL() (string, error) {
	values := map[string]string{
		"database": r.Database, "owner": r.Owner, "owner_password": r.OwnerPassword,
		"runtime": r.Runtime, "runtime_password": r.RuntimePassword,
	}
	var missing []string
	out := psqlVariable.ReplaceAllStringFunc(rolesSQL, func(v string) string {
		m := psqlVariable.FindStringSubmatch(v)
		name := m[1] + m[2]
		value, ok := values[name]
		if !ok {
			missing = append(missing, name)
		}
		if m[1] != "" {
			return pgx.Identifier{value}.Sanitize()
		}
		return literal(value)
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("roles.sql uses variables Roles does not set: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// PasswordSQL sets the passwords of both roles to r's: `accounts dev`
// gives its roles new ones at each start.
func (r Roles) PasswordSQL() string {
	return "ALTER ROLE " + pgx.Identifier{r.Owner}.Sanitize() + " PASSWORD " + literal(r.OwnerPassword) + ";\n" +
		"ALTER ROLE " + pgx.Identifier{r.Runtime}.Sanitize() + " PASSWORD " + literal(r.RuntimePassword) + ";\n"
}

// literal quotes s as an SQL string literal (standard_conforming_strings,
// PostgreSQL's default since 9.1).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
