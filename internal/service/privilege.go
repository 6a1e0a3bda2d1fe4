package service

import "context"

// privilegeQuery tells whether the session's role is a superuser, and how
// many tables of the schemas on its search path it owns (itself or through
// a role it belongs to).
const privilegeQuery = `SELECT r.rolsuper,
	(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY (current_schemas(false))
	   AND pg_has_role(current_user, c.relowner, 'MEMBER'))
FROM pg_roles r WHERE r.rolname = current_user`

// warnPrivileged logs one warning when serve's role could drop or alter
// the tables it serves: a superuser, or the owner of its tables. It still
// serves: test set-ups and single-user machines do that on purpose. A
// failure to tell is logged at DEBUG only; it changes nothing.
func (p *Process) warnPrivileged(ctx context.Context) {
	var super bool
	var owned int
	if err := p.db.SQL.QueryRowContext(ctx, privilegeQuery).Scan(&super, &owned); err != nil {
		p.log.Debug("could not tell whether the database role is privileged", "error", err.Error())
		return
	}
	if !super && owned == 0 {
		return
	}
	p.log.Warn("serve is connected as a role that can change the schema",
		"superuser", super, "tables_owned", owned,
		"advice", "serve as a role with SELECT, INSERT, UPDATE and DELETE only, and migrate as the owner role (internal/database/roles.sql sets up both)")
}
