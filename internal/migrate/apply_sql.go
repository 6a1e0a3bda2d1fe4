package migrate

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
)

// offlineScript writes, with no database, a script of the files after
// opts.From that psql runs (`psql -v ON_ERROR_STOP=1`), as `alembic upgrade
// --sql` does: each file in its transaction mode, followed by the
// revision-table row the Atlas CLI writes for it, so that afterwards both
// tools see the versions applied. A txmode none file records its progress
// after each statement, as apply does, so a run stopped by an error
// resumes there. Everything that is not SQL is a `--` comment.
func offlineScript(dir atlasmigrate.Dir, opts ApplyOptions, global TxMode, out *output) (*ApplyReport, error) {
	pending, from, err := filesAfter(dir, opts)
	if err != nil {
		return nil, err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return nil, err
	}
	revs := NewRevisionTable(nil, opts.RevisionSchema)
	lock := lockID(LockName)
	out.printf("-- Migration script written by %s, without a database: the files after %s.\n", opts.Operator, orNone(from))
	out.printf("-- Run it with psql -v ON_ERROR_STOP=1. Checks that read rows (a removed enum value still in use) are not made.\n")
	out.printf("DO $$ BEGIN IF NOT pg_try_advisory_lock(%d) THEN RAISE EXCEPTION 'another migration run holds the migration lock (advisory lock %d)'; END IF; END $$;\n", lock, lock)
	if opts.From == FromNone {
		for _, s := range revs.ddl() {
			out.printf("%s;\n", s)
		}
	}
	if global == TxModeAll {
		out.println("BEGIN;")
	}
	rep := &ApplyReport{DryRun: true, From: from, Pending: len(pending)}
	for _, f := range pending {
		res, err := scriptFile(f, sum, revs, opts.Operator, global, out)
		if err != nil {
			return nil, err
		}
		rep.Files = append(rep.Files, *res)
		rep.To = f.Version()
	}
	if global == TxModeAll {
		out.println("COMMIT;")
	}
	out.printf("DO $$ BEGIN PERFORM pg_advisory_unlock(%d); END $$;\n", lock)
	return rep, nil
}

// filesAfter returns the files after version opts.From (all of them for
// FromNone), as N and To select them, and the version they start from.
func filesAfter(dir atlasmigrate.Dir, opts ApplyOptions) ([]atlasmigrate.File, string, error) {
	if err := Validate(dir); err != nil {
		return nil, "", err
	}
	files, err := dir.Files()
	if err != nil {
		return nil, "", err
	}
	from := ""
	if opts.From != FromNone {
		i := slices.IndexFunc(files, func(f atlasmigrate.File) bool { return f.Version() == opts.From })
		if i < 0 {
			return nil, "", fmt.Errorf("--from %s: no migration file has that version (use %q for an empty database)", opts.From, FromNone)
		}
		files, from = files[i+1:], opts.From
	}
	pending, err := selectPending(dir, files, nil, opts.N, opts.To)
	return pending, from, err
}

// scriptFile writes one file of the script and its revision rows.
func scriptFile(f atlasmigrate.File, sum atlasmigrate.HashFile, revs *RevisionTable, operator string, global TxMode, out *output) (*FileResult, error) {
	stmts, err := atlasmigrate.FileStmtDecls(&postgres.Driver{}, f)
	if err != nil {
		return nil, fmt.Errorf("read statements of %s: %w", f.Name(), err)
	}
	mode, err := fileTxMode(f, global)
	if err != nil {
		return nil, err
	}
	hash, err := sum.SumByName(f.Name())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	rev := &atlasmigrate.Revision{Version: f.Version(), Description: f.Desc(), Type: atlasmigrate.RevisionTypeExecute,
		Total: len(stmts), Hash: hash, OperatorVersion: operator}
	res := &FileResult{Name: f.Name(), Version: f.Version(), Statements: len(stmts)}
	out.printf("\n-- %s (%d statement(s), txmode %s)\n", f.Name(), len(stmts), mode)
	if mode == TxModeFile {
		out.println("BEGIN;")
	}
	if mode == TxModeNone {
		out.println(revs.upsertLiteral(rev))
	}
	h := sha256.New()
	for _, s := range stmts {
		res.SQL = append(res.SQL, s.Text)
		out.println(s.Text)
		h.Write([]byte(s.Text))
		rev.Applied++
		if mode == TxModeNone && rev.Applied < rev.Total {
			rev.PartialHashes = append(rev.PartialHashes, "h1:"+base64.StdEncoding.EncodeToString(h.Sum(nil)))
			out.println(revs.upsertLiteral(rev))
		}
	}
	rev.PartialHashes = nil
	out.println(revs.upsertLiteral(rev))
	if mode == TxModeFile {
		out.println("COMMIT;")
	}
	return res, nil
}

// upsertLiteral is WriteRevision's statement with rev's values written as
// literals, for a script. executed_at is when the statement runs, and
// execution_time the time since the transaction began (the file's, in a
// transaction; about 0 for a txmode none file).
func (r *RevisionTable) upsertLiteral(rev *atlasmigrate.Revision) string {
	partial, _ := json.Marshal(rev.PartialHashes) // a []string always marshals
	return fmt.Sprintf("INSERT INTO %s (%s)\nVALUES (%s, %s, %d, %d, %d, now(), (EXTRACT(EPOCH FROM clock_timestamp() - now()) * 1000000000)::bigint, '', '', %s, %s, %s)\n%s;",
		r.qualified(), revisionColumns, sqlLiteral(rev.Version), sqlLiteral(rev.Description), int64(rev.Type), rev.Applied, rev.Total,
		sqlLiteral(rev.Hash), sqlLiteral(string(partial)), sqlLiteral(rev.OperatorVersion), revisionUpsert)
}

// sqlLiteral quotes s as a PostgreSQL string literal
// (standard_conforming_strings, the default since PostgreSQL 9.1).
func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
