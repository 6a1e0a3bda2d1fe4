package account

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"accounts/internal/config"
	"accounts/internal/database"
	"accounts/internal/password"
	"accounts/internal/testdb"
)

// testDB opens the service's database layer (database.Open: the pgxpool
// and Ent on it) on a fresh, fully migrated database of its own
// (internal/testdb), so the tests see the real schema, the native enum and
// the lower(username) index included, through the real driver.
func testDB(t testing.TB) *database.DB {
	t.Helper()
	d := config.Default().Database
	d.URL = testdb.URL(t)
	db, err := database.Open(context.Background(), d, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func testHasher(t testing.TB) *password.Hasher {
	t.Helper()
	h, err := password.New(password.Options{
		Params:        password.Params{Time: 1, MemoryKiB: 64, Threads: 1},
		Pepper:        []byte("test pepper"),
		MaxConcurrent: 4,
		MaxWait:       5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// clock is a settable clock for session tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newHasherWith(t *testing.T, passes uint32) (*password.Hasher, error) {
	t.Helper()
	return password.New(password.Options{
		Params:        password.Params{Time: passes, MemoryKiB: 64, Threads: 1},
		Pepper:        []byte("test pepper"),
		MaxConcurrent: 4,
		MaxWait:       5 * time.Second,
	})
}
