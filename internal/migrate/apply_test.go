package migrate

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// The revision table must be the Atlas CLI's, column for column, so either
// tool reads the other's history.
func TestRevisionTableIsAtlasCompatible(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := serviceDir(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT column_name, data_type, is_nullable, coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = 'atlas_schema_revisions' AND table_name = 'atlas_schema_revisions'
ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var n, typ, null, def string
		if err := rows.Scan(&n, &typ, &null, &def); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{n, typ, null, def}, " "))
	}
	_ = rows.Close()
	want := []string{
		"version character varying NO ",
		"description character varying NO ",
		"type bigint NO 2",
		"applied bigint NO 0",
		"total bigint NO 0",
		"executed_at timestamp with time zone NO ",
		"execution_time bigint NO ",
		"error text YES ",
		"error_stmt text YES ",
		"hash character varying NO ",
		"partial_hashes jsonb YES ",
		"operator_version character varying NO ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("revision table columns:\n got %q\nwant %q", got, want)
	}
	var pk string
	if err := db.QueryRowContext(ctx, `SELECT conname FROM pg_constraint WHERE conrelid = 'atlas_schema_revisions.atlas_schema_revisions'::regclass AND contype = 'p'`).Scan(&pk); err != nil {
		t.Fatal(err)
	}
	if pk != "atlas_schema_revisions_pkey" {
		t.Errorf("primary key constraint %q, want atlas_schema_revisions_pkey", pk)
	}
	name := fileNames(t, dir)[0]
	var (
		version, desc, hash, op, partialType string
		typ, applied, total, execTime        int64
		errText, errStmt                     string
	)
	if err := db.QueryRowContext(ctx, `SELECT version, description, type, applied, total, execution_time, hash, operator_version,
 jsonb_typeof(partial_hashes), error, error_stmt FROM atlas_schema_revisions.atlas_schema_revisions`).
		Scan(&version, &desc, &typ, &applied, &total, &execTime, &hash, &op, &partialType, &errText, &errStmt); err != nil {
		t.Fatal(err)
	}
	if version+"_"+desc+".sql" != name {
		t.Errorf("revision %s_%s, want file %s", version, desc, name)
	}
	if typ != 2 || applied != total || total < 5 {
		t.Errorf("type %d applied %d total %d: want type 2 (executed) and every statement applied", typ, applied, total)
	}
	if hash != sumEntry(t, dir, name) {
		t.Errorf("hash %q, want the atlas.sum entry %q", hash, sumEntry(t, dir, name))
	}
	if partialType != "null" || errText != "" || errStmt != "" {
		t.Errorf("partial_hashes %s, error %q, error_stmt %q: want JSON null and empty errors as the Atlas CLI writes", partialType, errText, errStmt)
	}
	if execTime < 1000 { // nanoseconds: anything real takes more than a microsecond
		t.Errorf("execution_time %d: want nanoseconds", execTime)
	}
	if !strings.HasPrefix(op, "accounts ") || !strings.Contains(op, "Atlas-compatible") {
		t.Errorf("operator_version %q: want it to name accounts", op)
	}
}

func TestApplyReportsEachFileAndSummary(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := initialDir(t)
	addFile(t, dir, "29990101000000_notes.sql", "CREATE TABLE notes (id bigint PRIMARY KEY);\nCREATE INDEX notes_id ON notes (id);\n")
	var out bytes.Buffer
	rep, err := Apply(ctx, db, dir, ApplyOptions{Out: &out, N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 1 || rep.To != initialVersion(t) {
		t.Fatalf("N=1 applied %d files to %s", len(rep.Files), rep.To)
	}
	rep, err = Apply(ctx, db, dir, ApplyOptions{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 1 || rep.Files[0].Executed != 2 || rep.To != "29990101000000" {
		t.Fatalf("second run: %+v", rep)
	}
	for _, want := range []string{"applied " + fileNames(t, dir)[0], "applied 29990101000000_notes.sql: 2 statement(s)", "the database is at version 29990101000000"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if _, err := Apply(ctx, db, dir, ApplyOptions{Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "No pending migrations") {
		t.Errorf("third run output: %s", out.String())
	}
}

// Eight appliers started at once must apply every file exactly once and
// leave the same revision table as a single applier.
func TestConcurrentAppliersInProcess(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := initialDir(t)
	addFile(t, dir, "29990101000000_slow.sql", "CREATE TABLE counter (n int);\nSELECT pg_sleep(0.2);\nINSERT INTO counter VALUES (1);\n")
	single, _ := newDB(t)
	if err := ApplyAll(ctx, single, dir, ""); err != nil {
		t.Fatal(err)
	}
	db, _ := newDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	files := make([]int, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := Apply(ctx, db, dir, ApplyOptions{})
			errs[i] = err
			if rep != nil {
				files[i] = len(rep.Files)
			}
		}()
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("applier %d: %v", i, err)
		}
		total += files[i]
	}
	if total != 2 {
		t.Errorf("appliers applied %d files in all (%v), want each of the 2 files exactly once", total, files)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM counter").Scan(&n); err != nil || n != 1 {
		t.Errorf("counter has %d rows (err %v): the slow file ran more than once", n, err)
	}
	if got, want := revisionRows(t, db), revisionRows(t, single); !reflect.DeepEqual(got, want) {
		t.Errorf("revision table after 8 appliers:\n%+v\nafter one:\n%+v", got, want)
	}
	// execution_time covers the whole file (it sleeps 200ms), in nanoseconds.
	var ns int64
	if err := db.QueryRowContext(ctx, "SELECT execution_time FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = '29990101000000'").Scan(&ns); err != nil {
		t.Fatal(err)
	}
	if ns < 200_000_000 || ns > 60_000_000_000 {
		t.Errorf("execution_time %d ns for a file that sleeps 200ms", ns)
	}
}

// The same with eight separate OS processes (the test binary re-executed),
// as when several replicas start at once.
func TestConcurrentAppliersInProcesses(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := initialDir(t)
	addFile(t, dir, "29990101000000_slow.sql", "CREATE TABLE counter (n int);\nSELECT pg_sleep(0.2);\nINSERT INTO counter VALUES (1);\n")
	single, _ := newDB(t)
	if err := ApplyAll(ctx, single, dir, ""); err != nil {
		t.Fatal(err)
	}
	db, url := newDB(t)
	var cmds []*exec.Cmd
	outs := make([]*bytes.Buffer, 8)
	for i := range 8 {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childURLEnv+"="+url, childDirEnv+"="+dir.Path())
		outs[i] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	applied := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("applier process %d: %v\n%s", i, err, outs[i])
		}
		switch s := strings.TrimSpace(outs[i].String()); s {
		case "applied 2":
			applied += 2
		case "applied 0":
		default:
			t.Errorf("applier process %d printed %q", i, s)
		}
	}
	if applied != 2 {
		t.Errorf("processes applied %d files in all, want 2 (one process does the work, the rest find nothing)", applied)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM counter").Scan(&n); err != nil || n != 1 {
		t.Errorf("counter has %d rows (err %v)", n, err)
	}
	if got, want := revisionRows(t, db), revisionRows(t, single); !reflect.DeepEqual(got, want) {
		t.Errorf("revision table after 8 processes:\n%+v\nafter one:\n%+v", got, want)
	}
}

// A failing statement rolls its file back and is recorded; after the file
// is fixed and re-hashed, the next run completes it.
func TestFailedStatementRollsBackFileAndRecordsError(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := initialDir(t)
	const name = "29990101000000_broken.sql"
	addFile(t, dir, name, "CREATE TABLE first_t (id int);\nINSERT INTO no_such_table VALUES (1);\nCREATE TABLE third_t (id int);\n")
	var out bytes.Buffer
	_, err := Apply(ctx, db, dir, ApplyOptions{Out: &out})
	var se *StatementError
	if !errors.As(err, &se) {
		t.Fatalf("apply error %v (%T), want a StatementError", err, err)
	}
	if se.File != name || se.Index != 2 || se.Total != 3 || !se.RolledBack || !strings.Contains(se.Stmt, "no_such_table") {
		t.Errorf("statement error %+v", se)
	}
	if !strings.Contains(out.String(), "FAILED "+name+" at statement 2 of 3") || !strings.Contains(out.String(), "no_such_table") {
		t.Errorf("output does not name file and statement:\n%s", out.String())
	}
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass('first_t') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Errorf("first_t exists=%v (err %v): the failed file was not rolled back", exists, err)
	}
	rows := revisionRows(t, db)
	if len(rows) != 2 {
		t.Fatalf("revision rows %+v", rows)
	}
	failed := rows[1]
	if failed.Version != "29990101000000" || failed.Applied != 0 || failed.Total != 3 ||
		!strings.Contains(failed.Error.String, "no_such_table") || !strings.Contains(failed.ErrorStmt.String, "INSERT INTO no_such_table") {
		t.Errorf("failed revision %+v", failed)
	}
	st, err := Status(ctx, db, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if st.UpToDate() || st.LastError == nil || len(st.Pending) != 1 {
		t.Errorf("status after failure: %+v", st)
	}
	// Fix the file and re-hash it.
	addFile(t, dir, name, "CREATE TABLE first_t (id int);\nINSERT INTO first_t VALUES (1);\nCREATE TABLE third_t (id int);\n")
	if _, err := Apply(ctx, db, dir, ApplyOptions{}); err != nil {
		t.Fatalf("apply after fix: %v", err)
	}
	rows = revisionRows(t, db)
	fixed := rows[1]
	if fixed.Applied != 3 || fixed.Total != 3 || fixed.Error.String != "" || fixed.ErrorStmt.String != "" || fixed.Hash != sumEntry(t, dir, name) {
		t.Errorf("revision after fix %+v, want complete, no error, the new hash", fixed)
	}
	if v, err := CurrentVersion(ctx, db); err != nil || v != "29990101000000" {
		t.Errorf("current version %q, %v", v, err)
	}
}

// Without a transaction, statements before the failure stay, and the next
// run resumes at the failed statement, as with the Atlas CLI.
func TestTxModeNoneResumesAtFailedStatement(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := initialDir(t)
	const name = "29990101000000_partial.sql"
	addFile(t, dir, name, "CREATE TABLE a_t (id int);\nINSERT INTO missing_t VALUES (1);\n")
	_, err := Apply(ctx, db, dir, ApplyOptions{TxMode: TxModeNone})
	var se *StatementError
	if !errors.As(err, &se) || se.RolledBack || se.Kept != 1 {
		t.Fatalf("error %v", err)
	}
	rows := revisionRows(t, db)
	if r := rows[1]; r.Applied != 1 || r.Total != 2 || r.Error.String == "" {
		t.Errorf("partial revision %+v", r)
	}
	addFile(t, dir, name, "CREATE TABLE a_t (id int);\nINSERT INTO a_t VALUES (1);\n")
	rep, err := Apply(ctx, db, dir, ApplyOptions{TxMode: TxModeNone})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 1 || rep.Files[0].Skipped != 1 || rep.Files[0].Executed != 1 {
		t.Errorf("resume: %+v", rep.Files)
	}
	if r := revisionRows(t, db)[1]; r.Applied != 2 || r.Error.String != "" {
		t.Errorf("revision after resume %+v", r)
	}
}

func TestTxModeAllRollsBackTheWholeRun(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := serviceDir(t)
	addFile(t, dir, "29990101000000_bad.sql", "SELECT no_such_function();\n")
	_, err := Apply(ctx, db, dir, ApplyOptions{TxMode: TxModeAll})
	var se *StatementError
	if !errors.As(err, &se) || !se.RolledBack {
		t.Fatalf("error %v", err)
	}
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass('users') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Errorf("users exists=%v: tx-mode all must roll back the initial migration too", exists)
	}
	rows := revisionRows(t, db)
	if len(rows) != 1 || rows[0].Version != "29990101000000" || rows[0].Error.String == "" {
		t.Errorf("revisions %+v: want only the failure recorded", rows)
	}
}

// An edited file must be refused, naming the file.
func TestTamperedFileIsRefused(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := serviceDir(t)
	name := fileNames(t, dir)[0]
	path := filepath.Join(dir.Path(), name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, []byte("DROP TABLE users;\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, db, dir, ApplyOptions{})
	var ce *ChecksumMismatchError
	if !errors.As(err, &ce) || ce.File != name || ce.Reason != "edited" {
		t.Fatalf("apply of a tampered directory: %v", err)
	}
	if !strings.Contains(err.Error(), name) {
		t.Errorf("error does not name the file: %v", err)
	}
	if !errors.Is(err, atlasmigrate.ErrChecksumMismatch) {
		t.Errorf("error does not wrap ErrChecksumMismatch: %v", err)
	}
	if ok, err := NewRevisionTable(db, "").Exists(ctx); err != nil || ok {
		t.Errorf("revision table exists=%v: a refused run must not touch the database", ok)
	}
	if err := Validate(dir); !errors.As(err, &ce) {
		t.Errorf("validate: %v", err)
	}
}

func TestNonEmptyDatabaseNeedsBaseline(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	db, _ := newDB(t)
	dir := initialDir(t)
	// The schema is there (made by hand), the history is not.
	b, err := os.ReadFile(filepath.Join(dir.Path(), fileNames(t, dir)[0]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, string(b)); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, db, dir, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "--baseline") {
		t.Fatalf("apply on a non-empty database without history: %v", err)
	}
	rep, err := Apply(ctx, db, dir, ApplyOptions{Baseline: initialVersion(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 0 || rep.To != initialVersion(t) {
		t.Errorf("baseline run %+v", rep)
	}
	rows := revisionRows(t, db)
	if len(rows) != 1 || rows[0].Type != 1 {
		t.Errorf("revisions %+v: want one baseline row (type 1)", rows)
	}
	st, err := Status(ctx, db, dir, "")
	if err != nil || !st.UpToDate() {
		t.Errorf("status %+v, %v", st, err)
	}
}
