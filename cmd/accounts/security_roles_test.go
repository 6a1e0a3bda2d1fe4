package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"accounts/internal/database"
	"accounts/internal/testdb"
)

// privilegedMsg starts the warning serve logs when its role may change
// the schema.
const privilegedMsg = "serve is connected as a role that can change the schema"

// TestRuntimeRoleOnlyReadsAndWritesRows (issue 30, finding 4): on a
// database set up by internal/database/roles.sql, the owner role applies
// the migrations, one of them adding a table; the runtime role cannot drop
// users, can read and write the new table without a GRANT of its own,
// and serves the API without the warning that serve as the owner logs.
func TestRuntimeRoleOnlyReadsAndWritesRows(t *testing.T) {
	directOnly(t)
	t.Parallel()
	roles := database.Roles{
		Owner: "accounts_owner_" + randomHex(4), OwnerPassword: "owner-pw-" + randomHex(8),
		Runtime: "accounts_app_" + randomHex(4), RuntimePassword: "runtime-pw-" + randomHex(8),
	}
	server := testdb.ServerURL(t)
	// Registered first, so it runs after the database is dropped.
	t.Cleanup(func() {
		for _, role := range []string{roles.Runtime, roles.Owner} {
			sqlAs(t, server, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
		}
	})
	empty := emptyDatabase(t)
	u, err := url.Parse(empty)
	if err != nil {
		t.Fatal(err)
	}
	roles.Database = strings.TrimPrefix(u.Path, "/")
	setup, err := roles.SQL()
	if err != nil {
		t.Fatal(err)
	}
	sqlAs(t, empty, setup)
	as := func(role, password string) string {
		v := *u
		v.User = url.UserPassword(role, password)
		return v.String()
	}
	ownerURL, runtimeURL := as(roles.Owner, roles.OwnerPassword), as(roles.Runtime, roles.RuntimePassword)

	dir := migrationDirWith(t, deployFiles) // adds the table notes
	if _, stderr, err := runCapture(map[string]string{"DATABASE_URL": ownerURL, "ACCOUNTS_MIGRATE_DIR": dir}, "migrate", "apply"); err != nil {
		t.Fatalf("migrate apply as the owner role: %v\n%s", err, stderr)
	}

	err = execAs(runtimeURL, "DROP TABLE users")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("DROP TABLE users as the runtime role: %v, want insufficient_privilege (42501)", err)
	}
	for _, stmt := range []string{
		`INSERT INTO notes (id, body) VALUES (1, 'one')`,
		`UPDATE notes SET body = 'uno' WHERE id = 1`,
		`SELECT id, body FROM notes`,
		`DELETE FROM notes WHERE id = 1`,
	} {
		if err := execAs(runtimeURL, stmt); err != nil {
			t.Errorf("the runtime role on the table a migration added: %s: %v", stmt, err)
		}
	}

	env := map[string]string{"ACCOUNTS_MIGRATE_DIR": dir}
	s := startServerOn(t, runtimeURL, env)
	c := s.newClient(false)
	expect(t, c.do("GET", "/readyz", nil), http.StatusOK)
	c.signUp("rowonly1", "row-only-password")
	if lines := logLinesOf(s.stderr.String(), privilegedMsg); len(lines) != 0 {
		t.Errorf("serve as the runtime role warned: %v", lines)
	}

	owner := startServerOn(t, ownerURL, env)
	expect(t, owner.newClient(false).do("GET", "/readyz", nil), http.StatusOK)
	if lines := logLinesOf(owner.stderr.String(), privilegedMsg); len(lines) != 1 || lines[0]["level"] != "WARN" {
		t.Errorf("serve as the owner of its tables logged %v, want one WARN line %q", lines, privilegedMsg)
	}
}

// execAs runs stmt on the database at dbURL.
func execAs(dbURL, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }() // the statement's error is the answer
	_, err = conn.Exec(ctx, stmt)
	return err
}

// sqlAs runs stmt on the database at dbURL or fails the test.
func sqlAs(t *testing.T, dbURL, stmt string) {
	t.Helper()
	if err := execAs(dbURL, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}
