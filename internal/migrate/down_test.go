package migrate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
)

// Down over a table that holds rows refuses without --force, saying what
// would be lost, and changes nothing; with --force it drops it.
func TestDownRefusesToDropDataWithoutForce(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := initialDir(t)
	addFile(t, dir, "29990101000000_notes.sql", "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n")
	addFile(t, dir, "29990101000001_users_bio.sql", "ALTER TABLE users ADD COLUMN bio text;\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO notes VALUES (1, 'keep me'), (2, 'me too')"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, bio) VALUES (gen_random_uuid(), 'someone', '\x00', 'hello')`); err != nil {
		t.Fatal(err)
	}
	before := revisionRows(t, db)
	_, err := Down(ctx, db, dir, DownOptions{N: 2})
	var dl *DataLossError
	if !errors.As(err, &dl) {
		t.Fatalf("down over tables with rows: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"table notes with 2 row(s)", "column users.bio with 1 non-null value(s)", "--force"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil || n != 2 {
		t.Errorf("notes rows %d (%v) after a refused down", n, err)
	}
	if after := revisionRows(t, db); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused down changed the revisions")
	}
	var out bytes.Buffer
	rep, err := Down(ctx, db, dir, DownOptions{N: 2, Force: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Reverted, []string{"29990101000001", "29990101000000"}) {
		t.Errorf("reverted %v", rep.Reverted)
	}
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass('notes') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Errorf("notes still exists after down --force")
	}
	if rows := revisionRows(t, db); len(rows) != 1 {
		t.Errorf("revisions after down: %+v", rows)
	}
	if !strings.Contains(out.String(), "--force: dropping table notes") {
		t.Errorf("output does not say what was dropped:\n%s", out.String())
	}
}

func TestDownRefusesToDropEnumValueInUse(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := serviceDir(t)
	addFile(t, dir, "29990101000000_auditor.sql", "ALTER TYPE userrole ADD VALUE 'AUDITOR';\n")
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, role) VALUES (gen_random_uuid(), 'auditor1', '\x00', 'AUDITOR')`); err != nil {
		t.Fatal(err)
	}
	_, err := Down(ctx, db, dir, DownOptions{Force: true})
	var dl *DataLossError
	if !errors.As(err, &dl) || !dl.Forced || !strings.Contains(err.Error(), "users.role hold value(s) AUDITOR") {
		t.Fatalf("down dropping a used enum value: %v", err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE users SET role = 'USER'`); err != nil {
		t.Fatal(err)
	}
	if _, err := Down(ctx, db, dir, DownOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := enumValues(t, inspect(t, db), "userrole"); !reflect.DeepEqual(got, []string{"USER", "ADMIN", "SUPER_ADMIN"}) {
		t.Errorf("userrole after down %q", got)
	}
	var role string
	if err := db.QueryRowContext(ctx, "SELECT role::text FROM users").Scan(&role); err != nil || role != "USER" {
		t.Errorf("user row after down: %q %v", role, err)
	}
}

// realmDump is everything a dry run must leave alone: the inspected realm
// (all schemas, tables, types) and the revision rows.
func realmDump(t *testing.T, db *sql.DB) (*schema.Realm, []revisionRow) {
	t.Helper()
	drv, err := postgres.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := drv.InspectRealm(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var revs []revisionRow
	if ok, err := NewRevisionTable(db, "").Exists(context.Background()); err != nil {
		t.Fatal(err)
	} else if ok {
		revs = revisionRows(t, db)
	}
	return r, revs
}

func sameRealm(t *testing.T, db *sql.DB, a, b *schema.Realm) bool {
	t.Helper()
	drv, err := postgres.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := drv.RealmDiff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return len(changes) == 0 && len(a.Schemas) == len(b.Schemas)
}

// Dry runs print SQL and change nothing, not even the revision table.
func TestDryRunsChangeNothing(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := initialDir(t)
	addFile(t, dir, "29990101000000_notes.sql", "CREATE TABLE notes (id bigint PRIMARY KEY);\n")

	realm0, revs0 := realmDump(t, db)
	var out bytes.Buffer
	rep, err := Apply(ctx, db, dir, ApplyOptions{DryRun: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 2 || !strings.Contains(out.String(), `CREATE TYPE "userrole"`) || !strings.Contains(out.String(), "CREATE TABLE notes") {
		t.Fatalf("dry run printed:\n%s", out.String())
	}
	realm1, revs1 := realmDump(t, db)
	if !sameRealm(t, db, realm0, realm1) || revs0 != nil || revs1 != nil {
		t.Fatalf("apply --dry-run changed the database (revisions %v)", revs1)
	}
	if ok, _ := NewRevisionTable(db, "").Exists(ctx); ok {
		t.Fatal("apply --dry-run created the revision table")
	}

	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	realm2, revs2 := realmDump(t, db)
	out.Reset()
	drep, err := Down(ctx, db, dir, DownOptions{DryRun: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(drep.SQL) == 0 || !strings.Contains(out.String(), `DROP TABLE "notes"`) {
		t.Fatalf("down --dry-run printed:\n%s", out.String())
	}
	realm3, revs3 := realmDump(t, db)
	if !sameRealm(t, db, realm2, realm3) || !reflect.DeepEqual(revs2, revs3) {
		t.Fatal("down --dry-run changed the database")
	}
}

func TestHistoryListsAppliedAndPending(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := initialDir(t)
	if err := ApplyAll(ctx, db, dir, "accounts test-operator"); err != nil {
		t.Fatal(err)
	}
	addFile(t, dir, "29990101000000_later.sql", "SELECT 1;\n")
	h, err := History(ctx, db, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].State != "applied" || h[0].Operator != "accounts test-operator" || h[0].ExecutedAt.IsZero() ||
		h[1].State != "pending" || h[1].File != "29990101000000_later.sql" {
		t.Errorf("history %+v", h)
	}
}
