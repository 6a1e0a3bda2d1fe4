package migrate

import (
	"strings"
	"testing"
)

func findings(rep *LintReport, file string) []Finding {
	var out []Finding
	for _, f := range rep.Findings {
		if f.File == file {
			out = append(out, f)
		}
	}
	return out
}

func hasFinding(fs []Finding, sev Severity, class, text string) bool {
	for _, f := range fs {
		if f.Severity == sev && f.Class == class && strings.Contains(f.Code+": "+f.Message, text) {
			return true
		}
	}
	return false
}

func TestLintFindsDestructiveAndRiskyChanges(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := initialDir(t)
	const risky = "29990101000000_risky.sql"
	addFile(t, dir, risky, `ALTER TABLE users DROP COLUMN is_active;
ALTER TABLE users ADD COLUMN email character varying NOT NULL;
CREATE UNIQUE INDEX ux_users_password ON users (password_hash);
DROP TABLE auth_sessions;
ALTER TABLE users ALTER COLUMN username TYPE varchar(16);
`)
	const fine = "29990101000001_fine.sql"
	addFile(t, dir, fine, `-- atlas:nolint destructive incompatible
ALTER TABLE users DROP COLUMN email;
CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL);
CREATE INDEX notes_body ON notes (body);
`)
	const enumDrop = "29990101000002_enum.sql"
	addFile(t, dir, enumDrop, `ALTER TYPE userrole RENAME TO userrole_old;
CREATE TYPE userrole AS ENUM ('USER', 'ADMIN');
ALTER TABLE users ALTER COLUMN role DROP DEFAULT;
ALTER TABLE users ALTER COLUMN role TYPE userrole USING role::text::userrole;
DROP TYPE userrole_old;
`)
	rep, err := Lint(ctx, dir, LintOptions{Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 4 {
		t.Fatalf("linted %v", rep.Files)
	}
	if fs := findings(rep, fileNames(t, dir)[0]); len(fs) != 0 {
		t.Errorf("the initial migration creates new tables only, yet: %v", fs)
	}
	fs := findings(rep, risky)
	for _, want := range []struct {
		sev         Severity
		class, text string
	}{
		{SeverityError, ClassDestructive, `DS103: Dropping non-virtual column "is_active"`},
		{SeverityWarning, ClassDataDepend, `MF103: Adding a non-nullable "character varying" column "email" will fail in case table "users" is not empty`},
		{SeverityWarning, ClassDataDepend, `MF101: Adding a unique index "ux_users_password" on table "users" might fail in case column "password_hash" contains duplicate entries`},
		{SeverityWarning, ClassLock, "AC101: CREATE INDEX ux_users_password blocks writes"},
		{SeverityError, ClassDestructive, `DS102: Dropping table "auth_sessions"`},
		{SeverityWarning, ClassLock, "AC102: changing the type of users.username"},
	} {
		if !hasFinding(fs, want.sev, want.class, want.text) {
			t.Errorf("no %s %s finding %q in %v", want.sev, want.class, want.text, fs)
		}
	}
	if fs := findings(rep, fine); len(fs) != 0 {
		t.Errorf("a new table and a nolint-ed drop gave findings: %v", fs)
	}
	if !hasFinding(findings(rep, enumDrop), SeverityError, ClassDestructive, "drops value(s) SUPER_ADMIN from enum userrole") {
		t.Errorf("dropping an enum value by recreating the type was not reported: %v", findings(rep, enumDrop))
	}
	if rep.Errors() < 4 {
		t.Errorf("errors %d", rep.Errors())
	}
	latest, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(latest.Files) != 1 || latest.Files[0] != enumDrop {
		t.Errorf("--latest 1 linted %v", latest.Files)
	}
}
