package pgcluster

import (
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	c, err := Start(t.Context(), Options{DataDir: filepath.Join(reachableDir(t), "pg"), Logger: testLogger(t), NoSync: true})
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

// reachableDir is a ThrowawayParent removed when the test ends.
func reachableDir(t *testing.T) string {
	t.Helper()
	dir, err := ThrowawayParent()
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// modes returns the permission bits of dir and each of its ancestors.
func modes(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	m := map[string]os.FileMode{}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		m[d] = fi.Mode()
		if filepath.Dir(d) == d {
			return m
		}
	}
}

// TestStartChangesNoPermissionAbove (issue 29, finding 8): as root, Start
// used to add o+x to every folder above the data directory that the
// server's account could not enter. It now changes none: a data
// directory the account cannot reach is refused, naming the folder and
// what to do, and one it can reach starts with its ancestors as they were.
func TestStartChangesNoPermissionAbove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs the server under another account")
	}
	bin := requireBinaries(t)
	t.Parallel()
	private := t.TempDir()
	before := modes(t, private)
	_, err := Start(t.Context(), Options{DataDir: filepath.Join(private, "pg"), SearchDirs: []string{bin}, NoSync: true, Logger: testLogger(t)})
	if after := modes(t, private); !maps.Equal(before, after) {
		t.Errorf("Start changed the permissions above its data directory: %v, then %v", before, after)
	}
	if err == nil || !strings.Contains(err.Error(), private) || !strings.Contains(err.Error(), "cannot enter") {
		t.Errorf("Start under a folder the server's account cannot enter = %v, want an error naming %s", err, private)
	}

	parent := reachableDir(t)
	before = modes(t, parent)
	c, err := Start(t.Context(), Options{DataDir: filepath.Join(parent, "pg"), SearchDirs: []string{bin}, NoSync: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, c)
	if after := modes(t, parent); !maps.Equal(before, after) {
		t.Errorf("Start changed the permissions above its data directory: %v, then %v", before, after)
	}
}
