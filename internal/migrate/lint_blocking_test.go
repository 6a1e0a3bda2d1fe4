package migrate

import (
	"strings"
	"testing"
)

// Each change that makes the service wait on an existing table is reported
// with the online way to write it; the online forms are not.
func TestLintFindsBlockingChanges(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := initialDir(t)
	const blocking = "29990101000000_blocking.sql"
	addFile(t, dir, blocking, `CREATE INDEX ix_users_active ON users (is_active);
DROP INDEX ix_users_created_at_id;
ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE users ADD COLUMN score integer DEFAULT 0;
ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT now();
ALTER TABLE users ALTER COLUMN score SET NOT NULL;
ALTER TABLE users ALTER COLUMN score TYPE bigint;
ALTER TABLE auth_sessions ADD CONSTRAINT auth_sessions_user FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE users ADD CONSTRAINT users_score_positive CHECK (score >= 0);
ALTER TABLE users ADD CONSTRAINT ux_users_token UNIQUE (token);
`)
	const online = "29990101000001_online.sql"
	addFile(t, dir, online, `-- atlas:txmode none

CREATE INDEX CONCURRENTLY ix_users_role ON users (role);
DROP INDEX CONCURRENTLY ix_users_active;
ALTER TABLE users ADD COLUMN level integer;
ALTER TABLE users ADD CONSTRAINT users_level_not_null CHECK (level IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_level_not_null;
ALTER TABLE users ALTER COLUMN level SET NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_level_small CHECK (level < 100) NOT VALID;
ALTER TABLE auth_sessions ADD CONSTRAINT auth_sessions_user2 FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
CREATE UNIQUE INDEX CONCURRENTLY ux_users_level ON users (level);
ALTER TABLE users ADD CONSTRAINT ux_users_level UNIQUE USING INDEX ux_users_level;
CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL DEFAULT gen_random_uuid()::text);
CREATE INDEX notes_body ON notes (body);
`)
	const cli = "29990101000002_cli.sql"
	addFile(t, dir, cli, `-- Create index "ix_users_updated_at" to table: "users"
CREATE INDEX CONCURRENTLY "ix_users_updated_at" ON "users" ("updated_at");
`)
	rep, err := Lint(ctx, dir, LintOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 4 {
		t.Fatalf("linted %v; findings %v", rep.Files, rep.Findings)
	}
	fs := findings(rep, blocking)
	for _, want := range []struct {
		stmt      int
		text, fix string
	}{
		{1, "CREATE INDEX ix_users_active blocks writes to users", "use CREATE INDEX CONCURRENTLY in a file that starts with `-- atlas:txmode none`"},
		{2, "DROP INDEX ix_users_created_at_id locks users", "use DROP INDEX CONCURRENTLY"},
		{3, "ADD COLUMN users.token with the volatile default gen_random_uuid() rewrites users", "add the column without a default, then SET DEFAULT"},
		{6, "SET NOT NULL on users.score scans the whole table", "CHECK (score IS NOT NULL) NOT VALID"},
		{7, "changing the type of users.score may rewrite the table", "add a column of the new type"},
		{8, "foreign key auth_sessions_user is validated", "add it NOT VALID, then ALTER TABLE auth_sessions VALIDATE CONSTRAINT auth_sessions_user"},
		{9, "check users_score_positive is validated", "add it NOT VALID"},
		{10, "constraint ux_users_token builds its unique index", "ADD CONSTRAINT ux_users_token UNIQUE USING INDEX ux_users_token"},
	} {
		if !hasStmtFinding(fs, want.stmt, ClassLock, want.text, want.fix) {
			t.Errorf("statement %d: no lock finding %q with fix %q in:\n%s", want.stmt, want.text, want.fix, listFindings(fs))
		}
	}
	for _, stmt := range []int{4, 5} {
		if hasStmtFinding(fs, stmt, ClassLock, "", "") {
			t.Errorf("statement %d (a constant or stable default) reported:\n%s", stmt, listFindings(fs))
		}
	}
	for _, f := range findings(rep, online) {
		if f.Class == ClassLock || f.Class == ClassTxMode {
			t.Errorf("the online form is reported: %s", f)
		}
	}
	if cf := findings(rep, cli); len(cf) != 1 || cf[0].Severity != SeverityError || cf[0].Class != ClassTxMode ||
		!strings.Contains(cf[0].Message, "put `-- atlas:txmode none` and a blank line at the top of the file") {
		t.Errorf("a CONCURRENTLY file without the directive:\n%s", listFindings(cf))
	}
}

func hasStmtFinding(fs []Finding, stmt int, class, text, fix string) bool {
	for _, f := range fs {
		if f.Stmt == stmt && f.Class == class && strings.Contains(f.Message, text) && strings.Contains(f.Message, fix) {
			return true
		}
	}
	return false
}

func listFindings(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}
