package migrate

import (
	"testing"
)

// A removed enum value is a destructive error on the CREATE TYPE statement,
// with the query that finds the rows; `-- atlas:nolint destructive` above
// that statement accepts it; RENAME VALUE is no loss.
func TestLintEnumValueRemoval(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	const rename = "29990101000000_rename.sql"
	addFile(t, dir, rename, "ALTER TYPE userrole RENAME VALUE 'ADMIN' TO 'MODERATOR';\n")
	const drop = "29990101000001_drop.sql"
	recreate := `ALTER TYPE "userrole" RENAME TO "userrole_old";
CREATE TYPE "userrole" AS ENUM ('USER', 'MODERATOR');
ALTER TABLE "users" ALTER COLUMN "role" DROP DEFAULT;
ALTER TABLE "users" ALTER COLUMN "role" TYPE "userrole" USING "role"::text::"userrole";
ALTER TABLE "users" ALTER COLUMN "role" SET DEFAULT 'USER';
DROP TYPE "userrole_old";
`
	addFile(t, dir, drop, recreate)
	const accepted = "29990101000002_accepted.sql"
	addFile(t, dir, accepted, `ALTER TYPE "userrole" RENAME TO "userrole_old";
-- atlas:nolint destructive
CREATE TYPE "userrole" AS ENUM ('USER');
ALTER TABLE "users" ALTER COLUMN "role" DROP DEFAULT;
ALTER TABLE "users" ALTER COLUMN "role" TYPE "userrole" USING "role"::text::"userrole";
ALTER TABLE "users" ALTER COLUMN "role" SET DEFAULT 'USER';
DROP TYPE "userrole_old";
`)
	rep, err := Lint(ctx, dir, LintOptions{Latest: 3, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if fs := findings(rep, rename); hasFinding(fs, SeverityError, ClassDestructive, "") {
		t.Errorf("RENAME VALUE reported as a loss: %v", fs)
	}
	fs := findings(rep, drop)
	var found *Finding
	for i, f := range fs {
		if f.Severity == SeverityError && f.Class == ClassDestructive {
			found = &fs[i]
		}
	}
	if found == nil || found.Stmt != 2 ||
		!hasFinding(fs, SeverityError, ClassDestructive, "drops value(s) SUPER_ADMIN from enum userrole") ||
		!hasFinding(fs, SeverityError, ClassDestructive, `SELECT count(*) FROM "users" WHERE "role"::text IN ('SUPER_ADMIN')`) ||
		!hasFinding(fs, SeverityError, ClassDestructive, "-- atlas:nolint destructive") {
		t.Errorf("findings of the removal: %v", fs)
	}
	for _, f := range fs {
		if f.Stmt == 1 {
			t.Errorf("renaming the old type aside is reported: %v", f)
		}
	}
	if hasFinding(fs, SeverityError, ClassIncompatible, "") {
		t.Errorf("recreating a type to drop a value is reported as an expand step: %v", fs)
	}
	if hasFinding(fs, SeverityWarning, ClassDestructive, "--rename-enum-value") {
		t.Errorf("a plain removal points at the rename flag: %v", fs)
	}
	if fs := findings(rep, accepted); hasFinding(fs, SeverityError, ClassDestructive, "") {
		t.Errorf("nolint above CREATE TYPE did not accept the removal: %v", fs)
	}
}
