package migrate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	entschema "entgo.io/ent/dialect/sql/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

const defaultTestURL = "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Child-process mode for the multi-process concurrency test: the test
// binary re-executes itself with these variables set and applies the
// directory once.
const (
	childURLEnv = "MIGRATE_TEST_CHILD_DB_URL"
	childDirEnv = "MIGRATE_TEST_CHILD_DIR"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(childURLEnv); url != "" {
		os.Exit(childApply(url, os.Getenv(childDirEnv)))
	}
	os.Exit(m.Run())
}

func childApply(url, path string) int {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	db := stdlib.OpenDB(*cfg)
	defer func() { _ = db.Close() }()
	dir, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Apply(ctx, db, dir, ApplyOptions{Operator: Operator(fmt.Sprintf("child-%d", os.Getpid()))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("applied %d\n", len(rep.Files))
	return 0
}

var (
	serverOnce sync.Once
	serverErr  error
)

// serverURL returns the URL of the test server, skipping the test when no
// server answers (failing it when CI is set).
func serverURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		url = defaultTestURL
	}
	serverOnce.Do(func() {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			serverErr = err
			return
		}
		db := stdlib.OpenDB(*cfg)
		defer func() { _ = db.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		serverErr = db.PingContext(ctx)
	})
	if serverErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s does not answer (CI is set, so this fails): %v", url, serverErr)
		}
		t.Skipf("PostgreSQL at %s does not answer: %v", url, serverErr)
	}
	return url
}

func devServer(t testing.TB) DevDatabase {
	return DevDatabase{ServerURL: serverURL(t)}
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newDB creates an empty database with a random name, dropped when the
// test ends. It returns the database and its URL.
func newDB(t testing.TB) (*sql.DB, string) {
	t.Helper()
	url := serverURL(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	admin := stdlib.OpenDB(*cfg)
	defer func() { _ = admin.Close() }()
	name := randomName("migtest_")
	if _, err := admin.Exec("CREATE DATABASE " + name + " TEMPLATE template0"); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin := stdlib.OpenDB(*cfg)
		defer func() { _ = admin.Close() }()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	c := cfg.Copy()
	c.Database = name
	db := stdlib.OpenDB(*c)
	t.Cleanup(func() { _ = db.Close() })
	u := strings.Replace(url, "/"+cfg.Database+"?", "/"+name+"?", 1)
	if !strings.Contains(u, "/"+name) {
		u = strings.TrimSuffix(url, "/"+cfg.Database) + "/" + name
	}
	return db, u
}

// serviceDir copies testdata/service (the snapshot of the service's
// history, fixture_service_test.go) into a temporary directory, so tests
// can add and edit files freely.
func serviceDir(t testing.TB) *atlasmigrate.LocalDir {
	t.Helper()
	return fixtureDir(t, "service")
}

// addFile writes a hand-written migration file and re-hashes the directory.
func addFile(t testing.TB, dir *atlasmigrate.LocalDir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir.Path(), name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Hash(dir); err != nil {
		t.Fatal(err)
	}
}

func fileNames(t testing.TB, dir atlasmigrate.Dir) []string {
	t.Helper()
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	return names
}

// initialDir is serviceDir with its first migration only (and its
// atlas.sum): the engine tests that count files and revisions add their own
// files on top of a one-file history.
func initialDir(t testing.TB) *atlasmigrate.LocalDir {
	t.Helper()
	dir := serviceDir(t)
	names := fileNames(t, dir)
	for _, n := range names[1:] {
		if err := os.Remove(filepath.Join(dir.Path(), n)); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := dir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	if err := atlasmigrate.WriteSumFile(dir, sum); err != nil {
		t.Fatal(err)
	}
	return dir
}

// headVersion is the version of the snapshot's last migration.
func headVersion(t testing.TB) string {
	t.Helper()
	names := fileNames(t, serviceDir(t))
	return strings.SplitN(names[len(names)-1], "_", 2)[0]
}

func initialVersion(t testing.TB) string {
	t.Helper()
	names := fileNames(t, serviceDir(t))
	if len(names) == 0 {
		t.Fatal("testdata/service has no files")
	}
	return strings.SplitN(names[0], "_", 2)[0]
}

// inspect reads the current schema of db with Atlas's inspector.
func inspect(t testing.TB, db *sql.DB) *schema.Schema {
	t.Helper()
	drv, err := postgres.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	s, err := drv.InspectSchema(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// schemaChanges diffs two inspected schemas; none means equal.
func schemaChanges(t testing.TB, db *sql.DB, from, to *schema.Schema) []schema.Change {
	t.Helper()
	drv, err := postgres.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	a, b := *from, *to
	a.Name, b.Name = "", ""
	changes, err := drv.SchemaDiff(&a, &b)
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

func enumValues(t testing.TB, s *schema.Schema, name string) []string {
	t.Helper()
	o, ok := s.Object(func(o schema.Object) bool {
		e, ok := o.(*schema.EnumType)
		return ok && e.T == name
	})
	if !ok {
		return nil
	}
	return o.(*schema.EnumType).Values
}

// revisionRow is a row of the revision table, minus times and operator.
type revisionRow struct {
	Version, Description string
	Type, Applied, Total int64
	Error, ErrorStmt     sql.NullString
	Hash                 string
	Partial              sql.NullString
}

func revisionRows(t testing.TB, db *sql.DB) []revisionRow {
	t.Helper()
	rows, err := db.Query(`SELECT version, description, type, applied, total, error, error_stmt, hash, partial_hashes::text
FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var out []revisionRow
	for rows.Next() {
		var r revisionRow
		if err := rows.Scan(&r.Version, &r.Description, &r.Type, &r.Applied, &r.Total, &r.Error, &r.ErrorStmt, &r.Hash, &r.Partial); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sumEntry(t testing.TB, dir atlasmigrate.Dir, name string) string {
	t.Helper()
	sum, err := dir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	h, err := sum.SumByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// cloneTables deep-copies Ent's tables so a test can change its own desired
// state without touching ent/schema or the package-level tables.
func cloneTables(src []*entschema.Table) []*entschema.Table {
	tables := make(map[*entschema.Table]*entschema.Table)
	cols := make(map[*entschema.Column]*entschema.Column)
	for _, t := range src {
		nt := *t
		nt.Columns = nil
		for _, c := range t.Columns {
			nc := *c
			nc.Enums = slices.Clone(c.Enums)
			cols[c] = &nc
			nt.Columns = append(nt.Columns, &nc)
		}
		tables[t] = &nt
	}
	mapCols := func(cs []*entschema.Column) []*entschema.Column {
		out := make([]*entschema.Column, len(cs))
		for i, c := range cs {
			out[i] = cols[c]
		}
		return out
	}
	var out []*entschema.Table
	for _, t := range src {
		nt := tables[t]
		nt.PrimaryKey = mapCols(t.PrimaryKey)
		nt.Indexes = nil
		for _, idx := range t.Indexes {
			ni := *idx
			ni.Columns = mapCols(idx.Columns)
			nt.Indexes = append(nt.Indexes, &ni)
		}
		nt.ForeignKeys = nil
		for _, fk := range t.ForeignKeys {
			nf := *fk
			nf.Columns = mapCols(fk.Columns)
			nf.RefColumns = mapCols(fk.RefColumns)
			nf.RefTable = tables[fk.RefTable]
			nt.ForeignKeys = append(nt.ForeignKeys, &nf)
		}
		out = append(out, nt)
	}
	return out
}

// entTables returns a fresh copy of the snapshot's Ent tables, for a test
// to change.
func entTables() []*entschema.Table { return cloneTables(svcTables) }

func tableByName(t testing.TB, tables []*entschema.Table, name string) *entschema.Table {
	t.Helper()
	for _, tb := range tables {
		if tb.Name == name {
			return tb
		}
	}
	t.Fatalf("no table %s", name)
	return nil
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// CurrentVersion returns the version db is migrated to, with the revision
// table in its default schema: the newest fully applied migration (or
// baseline), or "" when none is. Only the tests ask for it this way; the
// service reads the revision table with ReadBuildState.
func CurrentVersion(ctx context.Context, db *sql.DB) (string, error) {
	revs, err := NewRevisionTable(db, "").ReadRevisions(ctx)
	if err != nil {
		return "", err
	}
	return currentVersion(revs), nil
}

// reset empties the dev database's current schema (tables and types) so a
// test can reuse it.
func (d *devDB) reset(ctx context.Context) error {
	var schemaName string
	if err := d.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schemaName); err != nil {
		return err
	}
	for _, s := range []string{
		"DROP SCHEMA " + quoteIdent(schemaName) + " CASCADE",
		"CREATE SCHEMA " + quoteIdent(schemaName),
	} {
		if _, err := d.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("empty the dev database: %w", err)
		}
	}
	return nil
}
