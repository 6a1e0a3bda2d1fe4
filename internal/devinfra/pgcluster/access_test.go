package pgcluster

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestOtherLocalUsersCannotConnect (issue 29, finding 8): the cluster
// trusted every connection to 127.0.0.1, so any account on the machine was
// a PostgreSQL superuser. Over TCP it now asks for a password that Start
// generates (URL carries it), and its socket sits in a folder only the
// server's account may enter.
func TestOtherLocalUsersCannotConnect(t *testing.T) {
	requireBinaries(t)
	t.Parallel()
	c, err := Start(t.Context(), Options{DataDir: filepath.Join(t.TempDir(), "pg"), Logger: testLogger(t), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, c)
	var one int
	if err := connect(t, c.URL("postgres")).QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("URL does not connect: %v", err)
	}
	for _, user := range []*url.Userinfo{url.User("postgres"), url.UserPassword("postgres", "postgres"), url.User("root")} {
		u := url.URL{Scheme: "postgres", User: user, Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port())), Path: "/postgres", RawQuery: "sslmode=disable"}
		if conn, err := pgx.Connect(t.Context(), u.String()); err == nil {
			_ = conn.Close(t.Context())
			t.Errorf("%s connected over TCP without the generated password", user)
		}
	}
	fi, err := os.Stat(c.SocketDir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("socket folder %s has mode %v, want 0700", c.SocketDir(), fi.Mode().Perm())
	}
}
