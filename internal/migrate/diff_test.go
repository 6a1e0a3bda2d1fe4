package migrate

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	entschema "entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	appschema "accounts/ent/schema"
)

// Fresh database → apply → status up to date → check clean → diff says no
// changes and writes nothing.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := serviceDir(t)
	st, err := Status(ctx, db, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if st.UpToDate() || len(st.Pending) == 0 {
		t.Fatalf("fresh database reads as up to date: %+v", st)
	}
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	st, err = Status(ctx, db, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	head, _ := Head(dir)
	if !st.UpToDate() || st.Current != head || head == "" {
		t.Fatalf("after apply: status %+v, head %s", st, head)
	}
	if v, err := CurrentVersion(ctx, db); err != nil || v != head {
		t.Errorf("current version %q (%v), head %q", v, err, head)
	}
	desired := serviceState()
	chk, err := Check(ctx, dir, DiffOptions{Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !chk.NoChanges() {
		t.Fatalf("check finds changes migrations/ lacks:\n%s", chk.SQL)
	}
	before := fileNames(t, dir)
	res, err := Diff(ctx, dir, DiffOptions{Name: "nothing", Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoChanges() || res.File != "" || !slices.Equal(before, fileNames(t, dir)) {
		t.Fatalf("diff on an unchanged schema wrote %q:\n%s", res.File, res.SQL)
	}
}

// The snapshot's migrations build exactly the schema its tables describe.
func TestServiceMigrationsBuildTheSchema(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	if err := ApplyAll(ctx, db, serviceDir(t), ""); err != nil {
		t.Fatal(err)
	}
	s := inspect(t, db)
	if got := enumValues(t, s, "userrole"); !slices.Equal(got, []string{"USER", "ADMIN", "SUPER_ADMIN"}) {
		t.Errorf("enum userrole values %q", got)
	}
	checkServiceUsersTable(t, s)
	checkServiceSessionsTable(t, s)
	checkUsernameUniqueIgnoringCase(ctx, t, db)
}

// checkServiceUsersTable checks the users table the snapshot's migrations
// build: its columns (type, nullability, default), its primary key and its
// two unique indexes on username.
func checkServiceUsersTable(t *testing.T, s *schema.Schema) {
	t.Helper()
	users, ok := s.Table("users")
	if !ok {
		t.Fatal("no users table")
	}
	wantCols := map[string]string{ // name -> type, nullability, default
		"id":                 "uuid NOT NULL ",
		"username":           "character varying(32) NOT NULL ",
		"password_hash":      "bytea NOT NULL ",
		"role":               "userrole NOT NULL 'USER'",
		"is_active":          "boolean NOT NULL true",
		"created_at":         "timestamptz NOT NULL now()",
		"updated_at":         "timestamptz NOT NULL now()",
		"credential_version": "bigint NOT NULL 0",
	}
	if len(users.Columns) != len(wantCols) {
		t.Errorf("users has %d columns, want %d", len(users.Columns), len(wantCols))
	}
	for _, c := range users.Columns {
		if got := columnSignature(t, c); got != wantCols[c.Name] {
			t.Errorf("users.%s: %q, want %q", c.Name, got, wantCols[c.Name])
		}
	}
	if users.PrimaryKey == nil || len(users.PrimaryKey.Parts) != 1 || users.PrimaryKey.Parts[0].C.Name != "id" {
		t.Errorf("users primary key %+v", users.PrimaryKey)
	}
	ix, ok := users.Index("ix_users_username")
	if !ok || !ix.Unique || len(ix.Parts) != 1 || ix.Parts[0].C == nil || ix.Parts[0].C.Name != "username" {
		t.Errorf("ix_users_username: %+v", ix)
	}
	ux, ok := users.Index("ux_users_username_lower")
	if !ok || !ux.Unique || len(ux.Parts) != 1 || ux.Parts[0].X == nil || ux.Parts[0].X.(*schema.RawExpr).X != "lower((username)::text)" {
		t.Errorf("ux_users_username_lower: %+v", ux)
	}
}

// columnSignature renders an inspected column as "type NULL|NOT NULL
// default": the type as PostgreSQL formats it (an enum by its name) and the
// default's expression or literal, empty when there is none.
func columnSignature(t *testing.T, c *schema.Column) string {
	t.Helper()
	typ, err := postgres.FormatType(c.Type.Type)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := c.Type.Type.(*schema.EnumType); ok {
		typ = e.T
	}
	null := "NOT NULL"
	if c.Type.Null {
		null = "NULL"
	}
	def := ""
	if x, ok := c.Default.(*schema.RawExpr); ok {
		def = x.X
	} else if l, ok := c.Default.(*schema.Literal); ok {
		def = l.V
	}
	return typ + " " + null + " " + def
}

// checkServiceSessionsTable checks the auth_sessions table the snapshot's
// migrations build: its columns, its one foreign key (user_id -> users.id
// ON DELETE CASCADE) and the uniqueness of token_hash.
func checkServiceSessionsTable(t *testing.T, s *schema.Schema) {
	t.Helper()
	sessions, ok := s.Table("auth_sessions")
	if !ok {
		t.Fatal("no auth_sessions table")
	}
	for _, c := range []string{"id", "user_id", "token_hash", "created_at", "expires_at"} {
		if _, ok := sessions.Column(c); !ok {
			t.Errorf("auth_sessions lacks %s", c)
		}
	}
	if len(sessions.ForeignKeys) != 1 {
		t.Fatalf("auth_sessions foreign keys: %d", len(sessions.ForeignKeys))
	}
	fk := sessions.ForeignKeys[0]
	if fk.RefTable.Name != "users" || fk.Columns[0].Name != "user_id" || fk.RefColumns[0].Name != "id" || fk.OnDelete != schema.Cascade {
		t.Errorf("auth_sessions foreign key %s -> %s ON DELETE %s", fk.Columns[0].Name, fk.RefTable.Name, fk.OnDelete)
	}
	if th, ok := sessions.Index("auth_sessions_token_hash_key"); !ok || !th.Unique {
		t.Errorf("token_hash is not unique")
	}
}

// checkUsernameUniqueIgnoringCase checks that the database itself enforces
// case-insensitive uniqueness of usernames: after Alice, alice is refused.
func checkUsernameUniqueIgnoringCase(ctx context.Context, t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'Alice', '\x00')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'alice', '\x00')`); err == nil {
		t.Error("alice and Alice both inserted: ux_users_username_lower does not hold")
	}
}

// changedState is a test-local desired state: a new column, a new enum
// value, and a new table with a new enum type and a foreign key.
func changedState() DesiredState {
	tables := entTables()
	var users *entschema.Table
	for _, t := range tables {
		if t.Name == "users" {
			users = t
		}
	}
	users.Columns = append(users.Columns, &entschema.Column{Name: "nickname", Type: field.TypeString, Nullable: true})
	for _, c := range users.Columns {
		if c.Name == "role" {
			c.Enums = append(c.Enums, "AUDITOR")
		}
	}
	eventID := &entschema.Column{Name: "id", Type: field.TypeUUID}
	kind := &entschema.Column{Name: "kind", Type: field.TypeEnum, Enums: []string{"LOGIN", "LOGOUT"}, SchemaType: map[string]string{"postgres": "auditkind"}}
	userID := &entschema.Column{Name: "user_id", Type: field.TypeUUID}
	events := &entschema.Table{
		Name:       "login_events",
		Columns:    []*entschema.Column{eventID, kind, userID},
		PrimaryKey: []*entschema.Column{eventID},
		ForeignKeys: []*entschema.ForeignKey{{
			Symbol: "login_events_users_events", Columns: []*entschema.Column{userID},
			RefTable: users, RefColumns: []*entschema.Column{users.Columns[0]}, OnDelete: entschema.Cascade,
		}},
	}
	return DesiredState{Tables: append(tables, events), ExpressionIndexes: appschema.ExpressionIndexes}
}

// A schema change diffs into the expected SQL, applies, and down restores
// exactly the replayed previous state.
func TestSchemaChangeDiffApplyAndDown(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	desired := changedState()
	res, err := Diff(ctx, dir, DiffOptions{Name: "audit", Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.NoChanges() || !strings.HasSuffix(res.File, "_audit.sql") || len(res.File) != len("20060102150405_audit.sql") {
		t.Fatalf("diff result %+v", res)
	}
	written, err := os.ReadFile(filepath.Join(dir.Path(), res.File))
	if err != nil || string(written) != res.SQL {
		t.Fatalf("written file differs from the result (%v)", err)
	}
	sql := res.SQL
	for _, want := range []string{
		`ALTER TYPE "userrole" ADD VALUE 'AUDITOR'`,
		`CREATE TYPE "auditkind" AS ENUM ('LOGIN', 'LOGOUT')`,
		`CREATE TABLE "login_events"`,
		`"kind" "auditkind" NOT NULL`,
		`ADD COLUMN "nickname" character varying NULL`,
		`ON DELETE CASCADE`,
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("diff lacks %q:\n%s", want, sql)
		}
	}
	if strings.Index(sql, `CREATE TYPE "auditkind"`) > strings.Index(sql, `CREATE TABLE "login_events"`) {
		t.Errorf("CREATE TYPE comes after the CREATE TABLE that needs it:\n%s", sql)
	}
	if err := Validate(dir); err != nil {
		t.Fatalf("atlas.sum not updated: %v", err)
	}
	// The same desired state now diffs clean.
	again, err := Check(ctx, dir, DiffOptions{Desired: &desired, Dev: devServer(t)})
	if err != nil || !again.NoChanges() {
		t.Fatalf("check after diff: %v\n%s", err, again.SQL)
	}

	db, _ := newDB(t)
	if _, err := Apply(ctx, db, dir, ApplyOptions{N: len(fileNames(t, serviceDir(t)))}); err != nil {
		t.Fatal(err)
	}
	previous := inspect(t, db) // the replayed state before the change
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	changed := inspect(t, db)
	if got := enumValues(t, changed, "userrole"); !slices.Contains(got, "AUDITOR") {
		t.Fatalf("userrole after apply: %q", got)
	}
	if _, ok := changed.Table("login_events"); !ok {
		t.Fatal("login_events missing after apply")
	}
	rep, err := Down(ctx, db, dir, DownOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Reverted) != 1 || rep.To != headVersion(t) {
		t.Errorf("down report %+v", rep)
	}
	after := inspect(t, db)
	if changes := schemaChanges(t, db, previous, after); len(changes) != 0 {
		t.Errorf("after down the schema differs from the previous state by %d change(s): %v\nSQL: %q", len(changes), changes, rep.SQL)
	}
	if got := enumValues(t, after, "userrole"); !slices.Equal(got, []string{"USER", "ADMIN", "SUPER_ADMIN"}) {
		t.Errorf("userrole after down: %q", got)
	}
	if got := enumValues(t, after, "auditkind"); got != nil {
		t.Errorf("auditkind survived down: %q", got)
	}
	if rows := revisionRows(t, db); len(rows) != len(fileNames(t, serviceDir(t))) || rows[len(rows)-1].Version != headVersion(t) {
		t.Errorf("revisions after down: %+v", rows)
	}
	// And up again works: the directory still applies on top.
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatalf("re-apply after down: %v", err)
	}
}

// A column moving from varchar to a native enum type diffs into a type
// change with the enum created first and a cast through text (PostgreSQL
// has no automatic cast to an enum).
func TestColumnMovesToEnumType(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	addFile(t, dir, "29990101000000_status.sql", "CREATE TABLE tickets (id bigint PRIMARY KEY, status character varying NOT NULL);\n")
	status := &entschema.Column{Name: "status", Type: field.TypeEnum, Enums: []string{"OPEN", "CLOSED"}, SchemaType: map[string]string{"postgres": "ticketstatus"}}
	id := &entschema.Column{Name: "id", Type: field.TypeInt64}
	tickets := &entschema.Table{Name: "tickets", Columns: []*entschema.Column{id, status}, PrimaryKey: []*entschema.Column{id}}
	desired := serviceState()
	desired.Tables = append(entTables(), tickets)
	res, err := Check(ctx, dir, DiffOptions{Desired: &desired, Dev: devServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	ct := strings.Index(res.SQL, `CREATE TYPE "ticketstatus"`)
	alter := strings.Index(res.SQL, `TYPE "ticketstatus"`+" USING")
	if ct < 0 || alter < ct || !strings.Contains(res.SQL, `ALTER COLUMN "status" TYPE "ticketstatus" USING "status"::text::"ticketstatus"`) {
		t.Fatalf("diff:\n%s", res.SQL)
	}
}

func listDevDatabases(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", devDatabasePrefixOfProcess())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// Two diffs in a row leave no database behind. Not parallel: it compares
// the list of this process's dev databases, which parallel tests change;
// other processes on the same server (other test runs) name theirs with
// their own process id and do not disturb it.
func TestDiffLeavesNoDatabasesBehind(t *testing.T) {
	ctx := ctxFor(t)
	db, _ := newDB(t)
	before := listDevDatabases(t, db)
	dir := serviceDir(t)
	desired := changedState()
	first, err := Diff(ctx, dir, DiffOptions{Name: "one", Desired: &desired, Dev: devServer(t)})
	if err != nil || first.NoChanges() {
		t.Fatalf("first diff: %v", err)
	}
	second, err := Diff(ctx, dir, DiffOptions{Name: "two", Desired: &desired, Dev: devServer(t)})
	if err != nil || !second.NoChanges() {
		t.Fatalf("second diff: %v %+v", err, second)
	}
	// A failing diff cleans up too.
	broken := DesiredState{Tables: entTables(), ExpressionIndexes: []appschema.ExpressionIndex{{Table: "nope", Name: "x", Expr: "1"}}}
	if _, err := Diff(ctx, dir, DiffOptions{Name: "three", Desired: &broken, Dev: devServer(t)}); err == nil {
		t.Fatal("diff with an index on a missing table succeeded")
	}
	// So does a cancelled one.
	cctx, cancel := context.WithCancel(ctx)
	dev, err := openDev(cctx, devServer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := dev.close(); err != nil {
		t.Fatalf("close after cancel: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if after := listDevDatabases(t, db); !slices.Equal(before, after) {
		t.Errorf("dev databases before %v, after %v", before, after)
	}
}
