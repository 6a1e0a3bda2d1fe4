package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	entschema "entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	appschema "accounts/ent/schema"
)

// roleState is the Ent schema with users.role listing values instead of
// USER, ADMIN, SUPER_ADMIN.
func roleState(t testing.TB, values ...string) *DesiredState {
	t.Helper()
	tables := entTables()
	users := tableByName(t, tables, "users")
	found := false
	for _, c := range users.Columns {
		if c.Name == "role" {
			c.Enums, found = slices.Clone(values), true
		}
	}
	if !found {
		t.Fatal("users has no role column")
	}
	return &DesiredState{Tables: tables, ExpressionIndexes: appschema.ExpressionIndexes}
}

// dirSnapshot is every file of a migration directory, name to bytes.
func dirSnapshot(t testing.TB, dir *atlasmigrate.LocalDir) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir.Path())
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir.Path(), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// mustDiff runs Diff and returns the written file's content.
func mustDiff(ctx context.Context, t *testing.T, dir *atlasmigrate.LocalDir, name string, desired *DesiredState, renames ...EnumRename) *DiffResult {
	t.Helper()
	res, err := Diff(ctx, dir, DiffOptions{Name: name, Desired: desired, Dev: devServer(t), EnumRenames: renames})
	if err != nil {
		t.Fatalf("diff %s: %v", name, err)
	}
	if res.NoChanges() || res.File == "" {
		t.Fatalf("diff %s wrote nothing: %+v", name, res)
	}
	written, err := os.ReadFile(filepath.Join(dir.Path(), res.File))
	if err != nil || string(written) != res.SQL {
		t.Fatalf("diff %s: the written file differs from the result (%v)", name, err)
	}
	if err := Validate(dir); err != nil {
		t.Fatalf("diff %s: atlas.sum: %v", name, err)
	}
	return res
}

// assertDrift checks that Check sees a difference (want true) or none.
func assertDrift(ctx context.Context, t *testing.T, dir atlasmigrate.Dir, desired *DesiredState, want bool) *DiffResult {
	t.Helper()
	res, err := Check(ctx, dir, DiffOptions{Desired: desired, Dev: devServer(t)})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if got := !res.NoChanges(); got != want {
		t.Errorf("check sees drift = %v, want %v; SQL:\n%s", got, want, res.SQL)
	}
	return res
}

// The report: add AUDITOR, diff, remove it, diff. The second diff
// must write the type's recreation (never an empty file), check must see
// the drift before it and none after, and the file must apply.
func TestDiffRemovesEnumValue(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	withAuditor := roleState(t, "USER", "ADMIN", "SUPER_ADMIN", "AUDITOR")
	added := mustDiff(ctx, t, dir, "add_auditor", withAuditor)
	if !strings.Contains(added.SQL, `ALTER TYPE "userrole" ADD VALUE 'AUDITOR'`) {
		t.Fatalf("adding a value:\n%s", added.SQL)
	}
	original := roleState(t, "USER", "ADMIN", "SUPER_ADMIN")
	assertDrift(ctx, t, dir, original, true)
	before := dirSnapshot(t, dir)
	res, err := Diff(ctx, dir, DiffOptions{Name: "drop_auditor", Desired: original, Dev: devServer(t)})
	if err != nil {
		t.Fatalf("diff drop_auditor: %v", err)
	}
	after := dirSnapshot(t, dir)
	for name, content := range after {
		if strings.HasSuffix(name, ".sql") && strings.TrimSpace(content) == "" {
			t.Errorf("diff wrote an empty file %s (result: no changes = %v); atlas.sum went from\n%s\nto\n%s",
				name, res.NoChanges(), before["atlas.sum"], after["atlas.sum"])
		}
	}
	if res.NoChanges() {
		t.Fatalf("diff after removing AUDITOR reports no changes; the type keeps AUDITOR")
	}
	for _, want := range []string{
		`ALTER TYPE "userrole" RENAME TO "userrole_old"`,
		`CREATE TYPE "userrole" AS ENUM ('USER', 'ADMIN', 'SUPER_ADMIN')`,
		`ALTER TABLE "users" ALTER COLUMN "role" DROP DEFAULT`,
		`ALTER TABLE "users" ALTER COLUMN "role" TYPE "userrole" USING "role"::text::"userrole"`,
		`ALTER TABLE "users" ALTER COLUMN "role" SET DEFAULT 'USER'`,
		`DROP TYPE "userrole_old"`,
	} {
		if !strings.Contains(res.SQL, want) {
			t.Errorf("diff lacks %q:\n%s", want, res.SQL)
		}
	}
	assertDrift(ctx, t, dir, original, false)

	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if got := enumValues(t, inspect(t, db), "userrole"); !slices.Equal(got, []string{"USER", "ADMIN", "SUPER_ADMIN"}) {
		t.Errorf("userrole after apply: %q", got)
	}
}

// withAuditorApplied returns a directory with AUDITOR added to userrole and
// a database migrated to it, with n users holding AUDITOR.
func withAuditorApplied(ctx context.Context, t *testing.T, n int) (*atlasmigrate.LocalDir, *sql.DB) {
	t.Helper()
	dir := serviceDir(t)
	mustDiff(ctx, t, dir, "add_auditor", roleState(t, "USER", "ADMIN", "SUPER_ADMIN", "AUDITOR"))
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, role) VALUES (gen_random_uuid(), $1, '\x00', 'AUDITOR')`,
			fmt.Sprintf("auditor%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, role) VALUES (gen_random_uuid(), 'admin1', '\x00', 'ADMIN')`); err != nil {
		t.Fatal(err)
	}
	return dir, db
}

func roleCounts(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	rows, err := db.Query("SELECT role::text, count(*) FROM users GROUP BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]int{}
	for rows.Next() {
		var (
			r string
			n int
		)
		if err := rows.Scan(&r, &n); err != nil {
			t.Fatal(err)
		}
		out[r] = n
	}
	return out
}

// Apply refuses a file written by diff that removes a value rows still
// hold, naming the value and the row count, before changing anything; once
// the rows are updated it applies.
func TestApplyRefusesEnumRemovalWhileRowsHoldIt(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir, db := withAuditorApplied(ctx, t, 2)
	res := mustDiff(ctx, t, dir, "drop_auditor", roleState(t, "USER", "ADMIN", "SUPER_ADMIN"))
	realm0, revs0 := realmDump(t, db)
	var out strings.Builder
	if _, err := Apply(ctx, db, dir, ApplyOptions{DryRun: true, Out: &out}); err != nil || !strings.Contains(out.String(), "-- apply would refuse this file: refusing to apply "+res.File) {
		t.Errorf("dry run (%v):\n%s", err, out.String())
	}
	_, err := Apply(ctx, db, dir, ApplyOptions{})
	var inUse *EnumValueInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("apply of %s over rows holding AUDITOR: %v", res.File, err)
	}
	if inUse.Rows != 2 || !slices.Equal(inUse.Values, []string{"AUDITOR"}) || inUse.Table != "users" || inUse.Column != "role" {
		t.Errorf("refusal %+v", inUse)
	}
	for _, want := range []string{"AUDITOR", "2 row(s)", res.File, "nothing was applied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	realm1, revs1 := realmDump(t, db)
	if !sameRealm(t, db, realm0, realm1) || !slices.Equal(revs0, revs1) {
		t.Errorf("a refused apply changed the database (revisions %+v)", revs1)
	}
	if got := roleCounts(t, db); got["AUDITOR"] != 2 {
		t.Errorf("roles after a refused apply: %v", got)
	}
	if _, err := db.ExecContext(ctx, `UPDATE users SET role = 'USER' WHERE role = 'AUDITOR'`); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := enumValues(t, inspect(t, db), "userrole"); !slices.Equal(got, []string{"USER", "ADMIN", "SUPER_ADMIN"}) {
		t.Errorf("userrole after apply: %q", got)
	}
	if got := roleCounts(t, db); got["USER"] != 2 || got["ADMIN"] != 1 {
		t.Errorf("roles after apply: %v", got)
	}
}

// --rename-enum-value writes RENAME VALUE, which keeps the rows; combined
// with a removal, the rename comes before the type's recreation.
func TestDiffRenamesEnumValue(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir, db := withAuditorApplied(ctx, t, 1)
	reviewer := roleState(t, "USER", "ADMIN", "SUPER_ADMIN", "REVIEWER")
	for _, bad := range []EnumRename{{"userrole", "NOPE", "REVIEWER"}, {"userrole", "AUDITOR", "NOPE"}, {"nosuchtype", "A", "B"}} {
		if _, err := Diff(ctx, dir, DiffOptions{Name: "bad", Desired: reviewer, Dev: devServer(t), EnumRenames: []EnumRename{bad}}); err == nil || !strings.Contains(err.Error(), bad.String()) {
			t.Errorf("rename %s: %v", bad, err)
		}
	}
	assertDrift(ctx, t, dir, reviewer, true)
	res := mustDiff(ctx, t, dir, "rename_auditor", reviewer, EnumRename{"userrole", "AUDITOR", "REVIEWER"})
	if !strings.Contains(res.SQL, `ALTER TYPE "userrole" RENAME VALUE 'AUDITOR' TO 'REVIEWER'`) || res.Statements != 1 {
		t.Errorf("rename:\n%s", res.SQL)
	}
	assertDrift(ctx, t, dir, reviewer, false)
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := roleCounts(t, db); got["REVIEWER"] != 1 {
		t.Errorf("roles after the rename: %v", got)
	}

	// Rename REVIEWER to CHECKER and drop ADMIN (no row holds it after
	// the update): rename first, then recreate; apply's guard follows the
	// rename, so the REVIEWER row does not block it.
	if _, err := db.ExecContext(ctx, `UPDATE users SET role = 'USER' WHERE role = 'ADMIN'`); err != nil {
		t.Fatal(err)
	}
	checker := roleState(t, "USER", "SUPER_ADMIN", "CHECKER")
	assertDrift(ctx, t, dir, checker, true)
	res = mustDiff(ctx, t, dir, "rename_and_drop", checker, EnumRename{"userrole", "REVIEWER", "CHECKER"})
	rename := strings.Index(res.SQL, `ALTER TYPE "userrole" RENAME VALUE 'REVIEWER' TO 'CHECKER'`)
	create := strings.Index(res.SQL, `CREATE TYPE "userrole" AS ENUM ('USER', 'SUPER_ADMIN', 'CHECKER')`)
	if rename < 0 || create < rename {
		t.Errorf("rename and drop:\n%s", res.SQL)
	}
	assertDrift(ctx, t, dir, checker, false)
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := roleCounts(t, db); got["CHECKER"] != 1 || got["USER"] != 1 {
		t.Errorf("roles after rename and drop: %v", got)
	}
	if got := enumValues(t, inspect(t, db), "userrole"); !slices.Equal(got, []string{"USER", "SUPER_ADMIN", "CHECKER"}) {
		t.Errorf("userrole: %q", got)
	}
}

// Without the flag a removed and an added value are planned as a removal
// and an addition (the type ends exactly as the schema lists it), and both
// diff and lint point at the rename flag.
func TestDiffRemoveAndAddWithoutRenameFlag(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	mustDiff(ctx, t, dir, "add_auditor", roleState(t, "USER", "ADMIN", "SUPER_ADMIN", "AUDITOR"))
	reviewer := roleState(t, "USER", "ADMIN", "SUPER_ADMIN", "REVIEWER")
	assertDrift(ctx, t, dir, reviewer, true)
	res := mustDiff(ctx, t, dir, "replace_auditor", reviewer)
	if !strings.Contains(res.SQL, `CREATE TYPE "userrole" AS ENUM ('USER', 'ADMIN', 'SUPER_ADMIN', 'REVIEWER')`) ||
		strings.Contains(res.SQL, "RENAME VALUE") || strings.Contains(res.SQL, "ADD VALUE") {
		t.Errorf("remove + add:\n%s", res.SQL)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "--rename-enum-value userrole.AUDITOR=REVIEWER") {
		t.Errorf("notes %q", res.Notes)
	}
	assertDrift(ctx, t, dir, reviewer, false)
	rep, err := Lint(ctx, dir, LintOptions{Latest: 1, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	fs := findings(rep, res.File)
	if !hasFinding(fs, SeverityError, ClassDestructive, "drops value(s) AUDITOR from enum userrole") ||
		!hasFinding(fs, SeverityWarning, ClassDestructive, "--rename-enum-value userrole.AUDITOR=REVIEWER") {
		t.Errorf("lint findings: %v", fs)
	}
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if got := enumValues(t, inspect(t, db), "userrole"); !slices.Equal(got, []string{"USER", "ADMIN", "SUPER_ADMIN", "REVIEWER"}) {
		t.Errorf("userrole: %q", got)
	}
}

// A new order of the values recreates the type.
func TestDiffReordersEnumValues(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, role) VALUES (gen_random_uuid(), 'admin1', '\x00', 'ADMIN')`); err != nil {
		t.Fatal(err)
	}
	reordered := roleState(t, "ADMIN", "USER", "SUPER_ADMIN")
	assertDrift(ctx, t, dir, reordered, true)
	res := mustDiff(ctx, t, dir, "reorder", reordered)
	if !strings.Contains(res.SQL, `CREATE TYPE "userrole" AS ENUM ('ADMIN', 'USER', 'SUPER_ADMIN')`) || !strings.Contains(res.SQL, "reorder") {
		t.Errorf("reorder:\n%s", res.SQL)
	}
	assertDrift(ctx, t, dir, reordered, false)
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := enumValues(t, inspect(t, db), "userrole"); !slices.Equal(got, []string{"ADMIN", "USER", "SUPER_ADMIN"}) {
		t.Errorf("userrole: %q", got)
	}
	if got := roleCounts(t, db); got["ADMIN"] != 1 {
		t.Errorf("roles: %v", got)
	}
}

// A diff with nothing to do leaves the directory byte-for-byte as it was,
// also right after an enum removal was written.
func TestNoOpDiffLeavesDirectoryUnchanged(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	mustDiff(ctx, t, dir, "add_auditor", roleState(t, "USER", "ADMIN", "SUPER_ADMIN", "AUDITOR"))
	original := roleState(t, "USER", "ADMIN", "SUPER_ADMIN")
	mustDiff(ctx, t, dir, "drop_auditor", original)
	before := dirSnapshot(t, dir)
	res, err := Diff(ctx, dir, DiffOptions{Name: "nothing", Desired: original, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoChanges() || res.File != "" {
		t.Errorf("no-op diff: %+v", res)
	}
	if after := dirSnapshot(t, dir); !maps.Equal(before, after) {
		t.Errorf("a no-op diff changed the directory:\nbefore %v\nafter %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
}

// A change whose planned statements do not apply to the replayed directory
// (here: a view the engine does not manage depends on the enum column)
// makes diff and check fail naming it, and diff writes nothing.
func TestDiffRefusesAChangeItCannotPlan(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	addFile(t, dir, "29990101000000_admins_view.sql", "CREATE VIEW admins AS SELECT id, role FROM users WHERE role = 'ADMIN';\n")
	before := dirSnapshot(t, dir)
	noSuper := roleState(t, "USER", "ADMIN")
	_, err := Diff(ctx, dir, DiffOptions{Name: "drop_super", Desired: noSuper, Dev: devServer(t)})
	if err == nil || !strings.Contains(err.Error(), `ALTER COLUMN "role" TYPE "userrole"`) || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("diff under a view: %v", err)
	}
	if after := dirSnapshot(t, dir); !maps.Equal(before, after) {
		t.Error("a refused diff changed the directory")
	}
	if _, err := Check(ctx, dir, DiffOptions{Desired: noSuper, Dev: devServer(t)}); err == nil {
		t.Error("check passes while the change cannot be planned")
	}
}

// Down of a file that renamed a value renames it back, keeping the rows,
// instead of recreating the type without the new name.
func TestDownRenamesEnumValueBack(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir, db := withAuditorApplied(ctx, t, 1)
	addFile(t, dir, "29990101000000_reviewer.sql", "ALTER TYPE userrole RENAME VALUE 'AUDITOR' TO 'REVIEWER';\n")
	addFile(t, dir, "29990101000001_checker.sql", "ALTER TYPE \"userrole\" RENAME VALUE 'REVIEWER' TO 'CHECKER';\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if got := roleCounts(t, db); got["CHECKER"] != 1 {
		t.Fatalf("roles: %v", got)
	}
	rep, err := Down(ctx, db, dir, DownOptions{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.SQL, []string{`ALTER TYPE "userrole" RENAME VALUE 'CHECKER' TO 'AUDITOR'`}) {
		t.Errorf("down SQL %q", rep.SQL)
	}
	if got := roleCounts(t, db); got["AUDITOR"] != 1 {
		t.Errorf("roles after down: %v", got)
	}
	if got := enumValues(t, inspect(t, db), "userrole"); !slices.Equal(got, []string{"USER", "ADMIN", "SUPER_ADMIN", "AUDITOR"}) {
		t.Errorf("userrole after down: %q", got)
	}
}

// The apply guard reads hand-written files too: unquoted names, the order
// "new type, convert, drop the old, rename the new", and it leaves alone a
// conversion that maps values itself.
func TestApplyGuardFollowsHandWrittenFiles(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir, db := withAuditorApplied(ctx, t, 1)
	const name = "29990101000000_drop_auditor.sql"
	file := func(using string) string {
		return `CREATE TYPE userrole_new AS ENUM ('USER', 'ADMIN', 'SUPER_ADMIN');
ALTER TABLE users ALTER COLUMN role DROP DEFAULT;
ALTER TABLE users ALTER COLUMN role TYPE userrole_new USING ` + using + `;
ALTER TABLE users ALTER COLUMN role SET DEFAULT 'USER';
DROP TYPE userrole;
ALTER TYPE userrole_new RENAME TO userrole;
`
	}
	addFile(t, dir, name, file("role::text::userrole_new"))
	_, err := Apply(ctx, db, dir, ApplyOptions{})
	var inUse *EnumValueInUseError
	if !errors.As(err, &inUse) || inUse.Rows != 1 || !slices.Equal(inUse.Values, []string{"AUDITOR"}) {
		t.Fatalf("hand-written removal over a row holding AUDITOR: %v", err)
	}
	addFile(t, dir, name, file("(CASE WHEN role = 'AUDITOR' THEN 'USER' ELSE role::text END)::userrole_new"))
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatalf("a conversion that maps the value: %v", err)
	}
	if got := roleCounts(t, db); got["USER"] != 1 || got["ADMIN"] != 1 {
		t.Errorf("roles: %v", got)
	}
}

// A removal in the same diff as a new table whose column uses the type:
// the table is created first, then every column of the type, old and new,
// is converted and gets its default back.
func TestDiffRecreatesEnumUsedByTwoTables(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, role) VALUES (gen_random_uuid(), 'admin1', '\x00', 'ADMIN')`); err != nil {
		t.Fatal(err)
	}
	desired := roleState(t, "USER", "ADMIN")
	id := &entschema.Column{Name: "id", Type: field.TypeInt64}
	role := &entschema.Column{Name: "role", Type: field.TypeEnum, Enums: []string{"USER", "ADMIN"}, Default: "ADMIN",
		SchemaType: map[string]string{"postgres": "userrole"}}
	desired.Tables = append(desired.Tables, &entschema.Table{Name: "role_grants", Columns: []*entschema.Column{id, role}, PrimaryKey: []*entschema.Column{id}})
	assertDrift(ctx, t, dir, desired, true)
	res := mustDiff(ctx, t, dir, "grants", desired)
	create := strings.Index(res.SQL, `CREATE TABLE "role_grants"`)
	moveAside := strings.Index(res.SQL, `ALTER TYPE "userrole" RENAME TO "userrole_old"`)
	if create < 0 || moveAside < create {
		t.Errorf("the new table must come before the recreation:\n%s", res.SQL)
	}
	for _, want := range []string{
		`ALTER TABLE "users" ALTER COLUMN "role" TYPE "userrole" USING "role"::text::"userrole"`,
		`ALTER TABLE "role_grants" ALTER COLUMN "role" TYPE "userrole" USING "role"::text::"userrole"`,
		`ALTER TABLE "role_grants" ALTER COLUMN "role" SET DEFAULT 'ADMIN'`,
	} {
		if !strings.Contains(res.SQL, want) {
			t.Errorf("diff lacks %q:\n%s", want, res.SQL)
		}
	}
	assertDrift(ctx, t, dir, desired, false)
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO role_grants (id) VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var r string
	if err := db.QueryRowContext(ctx, `SELECT role::text FROM role_grants`).Scan(&r); err != nil || r != "ADMIN" {
		t.Errorf("role_grants default: %q %v", r, err)
	}
}

// A new default that names a value only the recreated type has is set
// after the conversion, not before it on the old type.
func TestDiffMovesDefaultToANewEnumValue(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	desired := roleState(t, "MEMBER", "ADMIN", "SUPER_ADMIN")
	for _, c := range tableByName(t, desired.Tables, "users").Columns {
		if c.Name == "role" {
			c.Default = "MEMBER"
		}
	}
	assertDrift(ctx, t, dir, desired, true)
	res := mustDiff(ctx, t, dir, "member", desired)
	if strings.Count(res.SQL, "SET DEFAULT") != 1 || !strings.Contains(res.SQL, `ALTER TABLE "users" ALTER COLUMN "role" SET DEFAULT 'MEMBER'`) ||
		strings.Index(res.SQL, "SET DEFAULT") < strings.Index(res.SQL, `USING "role"::text::"userrole"`) {
		t.Errorf("diff:\n%s", res.SQL)
	}
	assertDrift(ctx, t, dir, desired, false)
}
