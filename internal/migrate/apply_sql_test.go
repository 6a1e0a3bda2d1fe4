package migrate

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// A txmode none file in an offline script records its progress after each
// statement, as apply does: when psql stops at a failed statement, the
// revision table says how far it got, and apply resumes there (the
// statements before it are not run again) and finishes the file.
func TestApplySQLScriptTxModeNoneResumes(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := serviceDir(t)
	head := headVersion(t)
	db, url := newDB(t)
	if err := ApplyAll(ctx, db, dir, ""); err != nil {
		t.Fatal(err)
	}
	execAll(t, db,
		`INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'a', '\x00'), (gen_random_uuid(), 'b', '\x00')`)
	addFile(t, dir, "29990101000000_indexes.sql", txModeNoneDirective+
		`CREATE INDEX CONCURRENTLY "ix_users_role" ON "users" ("role");`+"\n"+
		`CREATE UNIQUE INDEX CONCURRENTLY "ux_users_password_hash" ON "users" ("password_hash");`+"\n")
	var script bytes.Buffer
	if _, err := Apply(ctx, nil, dir, ApplyOptions{From: head, SQL: true, Out: &script}); err != nil {
		t.Fatal(err)
	}
	psql := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url)
	psql.Stdin = &script
	out, err := psql.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "could not create unique index") {
		t.Fatalf("psql on duplicated values: %v\n%s", err, out)
	}
	rows := revisionRows(t, db)
	last := rows[len(rows)-1]
	if last.Version != "29990101000000" || last.Applied != 1 || last.Total != 2 {
		t.Fatalf("revision after the stop: %+v", last)
	}
	execAll(t, db, `DELETE FROM users WHERE username = 'b'`)
	rep, err := Apply(ctx, db, dir, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 1 || rep.Files[0].Skipped != 1 || rep.Files[0].Executed != 1 {
		t.Fatalf("apply after the script: %+v", rep.Files)
	}
	st, err := Status(ctx, db, dir, "")
	if err != nil || !st.UpToDate() {
		t.Fatalf("status: %v %+v", err, st)
	}
}
