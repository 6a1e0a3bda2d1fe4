package account

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"accounts/ent/auditevent"
	"accounts/ent/schema"
)

// accountState is everything an audited action may change: every user's
// credentials, role, flag and version, and every session.
func accountState(t *testing.T, db *sql.DB) string {
	t.Helper()
	var users, sessions string
	err := db.QueryRow(`SELECT coalesce(string_agg(concat_ws(',', id, md5(password_hash), role, is_active, credential_version), ';' ORDER BY id), ''),
		(SELECT coalesce(string_agg(id::text, ';' ORDER BY id), '') FROM auth_sessions)
		FROM users`).Scan(&users, &sessions)
	if err != nil {
		t.Fatal(err)
	}
	return users + "|" + sessions
}

func auditActions(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT action FROM audit_events ORDER BY occurred_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	// A read-only query: a close error cannot lose data, and Next and
	// Scan already reported whatever went wrong.
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// The two faults. "insert" fails the audit row's insert, after the change
// was written in the same transaction: the change must not survive without
// its row. "commit" fails the transaction at commit, after both the change
// and its row were written: neither may survive.
var auditFaults = map[string]string{
	"insert": `CREATE FUNCTION audit_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected audit fault'; END $$;
		CREATE TRIGGER audit_fault BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_fault();`,
	"commit": `CREATE FUNCTION audit_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected commit fault'; END $$;
		CREATE CONSTRAINT TRIGGER audit_fault AFTER INSERT ON audit_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_fault();`,
}

// TestAuditAtomic runs every audited action three times: with the audit
// insert failing, with the commit failing after the row was written, and
// without a fault. A failed run must leave the accounts exactly as they
// were and no audit row; the clean run must change them and write exactly
// one row of the action.
func TestAuditAtomic(t *testing.T) {
	f := newFixture(t)
	ctx := WithOrigin(context.Background(), Origin{RequestID: "req-1", Address: "192.0.2.7"})
	for _, st := range auditSteps(ctx, t, f) {
		for _, fault := range []string{"insert", "commit", ""} {
			runAuditStep(t, f.db.SQL, st, fault)
		}
	}
}

// auditStep is one audited action: the action it must log and the call
// that performs it.
type auditStep struct {
	action string
	run    func() error
}

// auditSteps creates the super admin, admin and user the actions work on,
// logs the user in once, and returns one step per audited action.
func auditSteps(ctx context.Context, t *testing.T, f fixture) []auditStep {
	t.Helper()
	db := f.db.SQL
	super, admin, user := staff(ctx, t, f)
	if _, err := f.sessions.Login(ctx, Credentials{Username: "user1", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	op := f.users.Operator()
	n := 0
	return []auditStep{
		{AuditSignedUp, func() error {
			n++
			_, err := f.users.SignUp(ctx, NewUser{Username: fmt.Sprintf("signup%d", n), Password: "password1"})
			return err
		}},
		{AuditCreated, func() error {
			n++
			_, err := f.users.Create(ctx, admin, NewUser{Username: fmt.Sprintf("created%d", n), Password: "password1"})
			return err
		}},
		{AuditLoggedIn, func() error {
			_, err := f.sessions.Login(ctx, Credentials{Username: "user1", Password: "password1"})
			return err
		}},
		{AuditPasswordChanged, func() error {
			l, err := f.sessions.Login(ctx, Credentials{Username: "admin1", Password: "password1"})
			if err != nil {
				return err
			}
			// The login's own row is not what this step is about.
			if _, err := db.Exec(`DELETE FROM audit_events WHERE action = $1`, AuditLoggedIn); err != nil {
				return err
			}
			p, err := f.sessions.Authenticate(ctx, l.Token)
			if err != nil {
				return err
			}
			_, err = f.sessions.ChangePassword(ctx, p, PasswordChange{Current: "password1", New: "password2"})
			return err
		}},
		{AuditPasswordSet, func() error { return f.users.SetPassword(ctx, admin, user.ID, "password9") }},
		{AuditRoleGranted, func() error { return f.users.SetAdmin(ctx, super, user.ID, true) }},
		{AuditRoleRevoked, func() error { return f.users.SetAdmin(ctx, super, user.ID, false) }},
		{AuditDeactivated, func() error { return f.users.SetActive(ctx, admin, user.ID, false) }},
		{AuditActivated, func() error { return f.users.SetActive(ctx, admin, user.ID, true) }},
		{AuditSessionsRevoked, func() error { _, err := op.RevokeSessions(ctx, "user1"); return err }},
	}
}

// runAuditStep empties the audit log, installs the fault (none when fault
// is empty), runs the step and checks the outcome: a faulted run must fail
// and leave neither the change nor a row, a clean run must change the
// accounts and write exactly one row of its action.
func runAuditStep(t *testing.T, db *sql.DB, st auditStep, fault string) {
	t.Helper()
	if _, err := db.Exec(`DELETE FROM audit_events`); err != nil {
		t.Fatal(err)
	}
	if fault != "" {
		if _, err := db.Exec(auditFaults[fault]); err != nil {
			t.Fatal(err)
		}
	}
	before := accountState(t, db)
	err := st.run()
	if st.action == AuditPasswordChanged {
		// Its step logs in first, outside the fault: compare from there.
		before = ""
	}
	after := accountState(t, db)
	rows := auditActions(t, db)
	if fault != "" {
		checkFaultedAuditStep(t, db, st.action, fault, err, before, after, rows)
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", st.action, err)
	}
	if before != "" && after == before {
		t.Fatalf("%s: nothing changed", st.action)
	}
	if len(rows) != 1 || rows[0] != st.action {
		t.Fatalf("%s: audit rows %v, want exactly the action", st.action, rows)
	}
}

// checkFaultedAuditStep removes the fault, then checks that the faulted
// run failed and rolled back both the change (unless before is empty, the
// step having nothing to compare) and its audit rows.
func checkFaultedAuditStep(t *testing.T, db *sql.DB, action, fault string, err error, before, after string, rows []string) {
	t.Helper()
	if _, err := db.Exec(`DROP TRIGGER audit_fault ON audit_events; DROP FUNCTION audit_fault()`); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Fatalf("%s with the %s fault: no error", action, fault)
	}
	if before != "" && after != before {
		t.Fatalf("%s with the %s fault: the change survived without its audit row", action, fault)
	}
	if len(rows) != 0 {
		t.Fatalf("%s with the %s fault: rows %v survived the rollback", action, fault, rows)
	}
}

// TestAuditPasswordChangeRollsBack pins the password change, whose step
// above cannot compare the state from before its own login: a failed
// audit insert leaves the old password working.
func TestAuditPasswordChangeRollsBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.users.SignUp(ctx, NewUser{Username: "user1", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	l, err := f.sessions.Login(ctx, Credentials{Username: "user1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.sessions.Authenticate(ctx, l.Token)
	if err != nil {
		t.Fatal(err)
	}
	before := accountState(t, f.db.SQL)
	if _, err := f.db.SQL.Exec(auditFaults["commit"]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.ChangePassword(ctx, p, PasswordChange{Current: "password1", New: "password2"}); err == nil {
		t.Fatal("password change with a commit fault: no error")
	}
	if after := accountState(t, f.db.SQL); after != before {
		t.Fatal("the password change survived without its audit row")
	}
}

// TestAuditRowContents checks what one row holds: actor, target, request
// id and address from the context, and the operator of the command line.
func TestAuditRowContents(t *testing.T) {
	f := newFixture(t)
	ctx := WithOrigin(context.Background(), Origin{RequestID: "req-42", Address: "2001:db8::1"})
	u, err := f.users.SignUp(ctx, NewUser{Username: "user1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := f.db.Ent.AuditEvent.Query().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != AuditSignedUp || ev.ActorID == nil || *ev.ActorID != u.ID || *ev.TargetID != u.ID ||
		ev.RequestID != "req-42" || ev.ClientAddress != "2001:db8::1" || ev.TargetName != "user1" {
		t.Fatalf("sign-up row: %+v", ev)
	}
	opCtx := WithOrigin(context.Background(), Origin{Operator: "ops@host1"})
	if _, err := f.users.Operator().SetActive(opCtx, "USER1", false, false); err != nil {
		t.Fatal(err)
	}
	ev, err = f.db.Ent.AuditEvent.Query().Where(auditevent.Action(AuditDeactivated)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ActorID != nil || ev.ActorName != "cli:ops@host1" || ev.Details["sessions_ended"] != float64(0) {
		t.Fatalf("operator row: %+v", ev)
	}
}

// TestAuditAppendOnly: the client refuses to update or delete a row; only
// the retention purge's context deletes.
func TestAuditAppendOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.users.SignUp(ctx, NewUser{Username: "user1", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.db.Ent.AuditEvent.Update().Save(ctx)
	if err == nil || !strings.Contains(err.Error(), schema.ErrAuditAppendOnly.Error()) {
		t.Fatalf("update: %v", err)
	}
	_, err = f.db.Ent.AuditEvent.Delete().Exec(ctx)
	if err == nil || !strings.Contains(err.Error(), schema.ErrAuditAppendOnly.Error()) {
		t.Fatalf("delete: %v", err)
	}
	if n := f.db.Ent.AuditEvent.Query().CountX(ctx); n != 1 {
		t.Fatalf("%d rows after refused changes, want 1", n)
	}
}

// TestAuditDetailsAreTyped (issue 30, finding 6): a number in an event's
// details is stored and read as a JSON number, not a quoted string; a row
// written before, whose values are all strings, still reads as it was.
func TestAuditDetailsAreTyped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.users.SignUp(ctx, NewUser{Username: "typed1", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.users.Operator().SetActive(ctx, "typed1", false, false); err != nil {
		t.Fatal(err)
	}
	var kind string
	if err := f.db.SQL.QueryRowContext(ctx, `SELECT jsonb_typeof(details->'sessions_ended') FROM audit_events WHERE action = $1`,
		AuditDeactivated).Scan(&kind); err != nil || kind != "number" {
		t.Fatalf("sessions_ended is stored as a JSON %s (%v), want number", kind, err)
	}
	if _, err := f.db.SQL.ExecContext(ctx, `INSERT INTO audit_events (id, action, actor_name, target_name, details)
		VALUES ('0193a3c4-0000-7000-8000-000000000001', $1, 'cli:old', 'typed1', '{"sessions_ended": "3"}')`, AuditSessionsRevoked); err != nil {
		t.Fatal(err)
	}
	page, err := NewAudit(f.db).Read(ctx, AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ev := range page.Events {
		b, err := json.Marshal(ev.Details)
		if err != nil {
			t.Fatal(err)
		}
		got[ev.Action] = string(b)
	}
	for action, want := range map[string]string{AuditDeactivated: `{"sessions_ended":0}`, AuditSessionsRevoked: `{"sessions_ended":"3"}`} {
		if got[action] != want {
			t.Errorf("%s details read as %s, want %s", action, got[action], want)
		}
	}
}

// staff creates a super admin (root1), an admin (admin1) and a user
// (user1), each with password1.
func staff(ctx context.Context, t *testing.T, f fixture) (super, admin, user User) {
	t.Helper()
	super, err := f.users.CreateSuperAdmin(ctx, NewUser{Username: "root1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err = f.users.Create(ctx, super, NewUser{Username: "admin1", Password: "password1", Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	user, err = f.users.Create(ctx, admin, NewUser{Username: "user1", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	return super, admin, user
}
