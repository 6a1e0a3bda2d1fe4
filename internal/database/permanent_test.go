package database

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPermanent checks which connection errors are given up on at once,
// with what to do, and which are retried. 3D000 and 28000 are also met
// for real in cmd/accounts' TestPermanentConnectionErrorsFailAtOnce; a
// server with trust authentication cannot refuse a password, so 28P01 is
// checked here.
func TestPermanent(t *testing.T) {
	url := "postgres://alice:secret@db.example:5433/app?sslmode=disable"
	for _, c := range []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "28P01"}, `refused the password of user "alice"; set database.password`},
		{&pgconn.PgError{Code: "3D000"}, "create it with `createdb -h db.example -p 5433 app`"},
		{&pgconn.PgError{Code: "28000"}, `does not let user "alice" in`},
		{&pgconn.PgError{Code: "57P03"}, ""}, // the database system is starting up
		{syscall.ECONNREFUSED, ""},
		{errors.New("timeout"), ""},
	} {
		got := Permanent(c.err, url)
		switch {
		case c.want == "" && got != nil:
			t.Errorf("%v: Permanent = %v, want nil (retried)", c.err, got)
		case c.want != "" && (got == nil || !strings.Contains(got.Error(), c.want)):
			t.Errorf("%v: Permanent = %v, want %q", c.err, got, c.want)
		case got != nil && strings.Contains(got.Error(), "secret"):
			t.Errorf("%v: the message shows the password: %v", c.err, got)
		}
	}
	if err := Permanent(errors.New("x"), "postgres://a@h:notaport/db"); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Errorf("malformed URL: %v", err)
	}
}
