package migrate

import (
	"slices"
	"strings"
	"testing"
)

// TestLintBreaksTheRunningRelease: in a file that also adds things (the
// expand step of a deploy, applied while the old release serves), a drop
// or rename of a column or table, or a narrowed type, is an error that
// says to ship it later; a file that only removes things, a widened type,
// and a statement marked `-- atlas:nolint incompatible` are not reported.
func TestLintBreaksTheRunningRelease(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	files := []struct{ name, sql string }{
		{"29990201000001_expand_and_drop.sql", `ALTER TABLE users ADD COLUMN nickname character varying NULL;
ALTER TABLE users DROP COLUMN is_active;
`},
		{"29990201000002_rename_column.sql", `CREATE TABLE notes (id bigint PRIMARY KEY, body text NULL);
ALTER TABLE users RENAME COLUMN nickname TO display_name;
ALTER TABLE notes RENAME COLUMN body TO text;
`},
		{"29990201000003_narrow.sql", `CREATE INDEX users_display_name ON users (display_name);
ALTER TABLE users ALTER COLUMN username TYPE character varying(16);
ALTER TABLE users ALTER COLUMN display_name TYPE text;
`},
		{"29990201000004_rename_table.sql", `ALTER TABLE notes RENAME TO memos;
ALTER TABLE memos ADD COLUMN at timestamptz NULL;
`},
		{"29990201000005_exempt.sql", `ALTER TABLE memos ADD COLUMN by_user uuid NULL;
-- atlas:nolint incompatible
ALTER TABLE memos DROP COLUMN at;
`},
		{"29990201000006_contract.sql", `ALTER TABLE users DROP COLUMN display_name;
DROP TABLE memos;
`},
		{"29990201000007_rename_only.sql", `ALTER TABLE auth_sessions RENAME COLUMN expires_at TO ends_at;
`},
	}
	for _, f := range files {
		addFile(t, dir, f.name, f.sql)
	}
	rep, err := Lint(ctx, dir, LintOptions{Latest: len(files), Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != len(files) {
		t.Fatalf("linted %v", rep.Files)
	}
	const later = "breaks the running release; ship it in a later migration"
	want := map[string][]string{
		files[0].name: {"drops column users.is_active in a file that also adds column users.nickname: " + later},
		files[1].name: {"renames column users.nickname in a file that also adds table notes: " + later},
		files[2].name: {"narrows the type of users.username from character varying(32) to character varying(16) in a file that also adds index users_display_name: " + later},
		files[3].name: {"renames table notes in a file that also adds column memos.at: " + later},
	}
	for _, f := range files {
		var got []string
		for _, fd := range findings(rep, f.name) {
			if fd.Class == ClassIncompatible && fd.Code == "AC501" {
				if fd.Severity != SeverityError {
					t.Errorf("%s: %s is a %s, want an error", f.name, fd.Message, fd.Severity)
				}
				got = append(got, fd.Message)
			}
		}
		if strings.Join(got, "\n") != strings.Join(want[f.name], "\n") {
			t.Errorf("%s: incompatible findings\n%s\nwant\n%s", f.name, strings.Join(got, "\n"), strings.Join(want[f.name], "\n"))
		}
	}
	// Atlas's own incompatible analyzer reports every rename of an existing
	// table or column, as a warning (BC101, BC102), beside the rule above.
	for _, w := range []struct{ file, code string }{{files[1].name, "BC102"}, {files[3].name, "BC101"}, {files[6].name, "BC102"}} {
		if !slices.ContainsFunc(findings(rep, w.file), func(f Finding) bool { return f.Code == w.code && f.Severity == SeverityWarning }) {
			t.Errorf("%s: no %s warning: %v", w.file, w.code, findings(rep, w.file))
		}
	}
	// The contract step is still destructive, only not incompatible.
	if !hasFinding(findings(rep, files[5].name), SeverityError, ClassDestructive, `DS102: Dropping table "memos"`) {
		t.Errorf("the contract file lost its destructive findings: %v", findings(rep, files[5].name))
	}
}
