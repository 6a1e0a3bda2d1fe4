package account

import (
	"context"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"accounts/ent"
	"accounts/internal/password"
	"accounts/internal/testdb"
)

// testClient returns an Ent client on a fresh, fully migrated database of
// its own (internal/testdb), so the tests see the real schema: the native
// enum and the lower(username) index included.
func testClient(t *testing.T) *ent.Client {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testdb.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, stdlib.OpenDBFromPool(pool))))
	t.Cleanup(func() {
		_ = client.Close()
		pool.Close()
	})
	return client
}

func testHasher(t *testing.T) *password.Hasher {
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
