// Package testdb gives each test its own PostgreSQL database, migrated by
// the project's own migration engine. The directory is applied once to a
// template database (keyed by the hash of atlas.sum); every test then gets a
// clone of it in milliseconds, so database tests run in parallel.
//
// The server is, in order: TEST_DATABASE_URL when set; the server at the
// default local address when it answers; otherwise a private cluster started
// from the installed PostgreSQL binaries in .data/test-postgres at the root
// of the module (kept running and reused by later runs). When none of them
// can be had, tests fail when CI is set and skip otherwise. This package
// reads the environment itself because it is test infrastructure: the
// service's own packages never do.
package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver pgtestdb opens
	"github.com/peterldowns/pgtestdb"

	"accounts/internal/database"
	"accounts/internal/devinfra/pgcluster"
	"accounts/internal/migrate"
	"accounts/migrations"
)

// DefaultServerURL is the server tried when TEST_DATABASE_URL is not set.
const DefaultServerURL = "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
)

// ServerURL returns the URL of the maintenance database of the test server,
// for tests that create databases themselves. It fails the test when CI is
// set and no server can be had, and skips it otherwise.
func ServerURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() { serverURL, serverErr = findServer() })
	if serverErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no PostgreSQL for tests (CI is set, so this is an error): %v", serverErr)
		}
		t.Skipf("no PostgreSQL for tests: %v", serverErr)
	}
	return serverURL
}

func findServer() (string, error) {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		if err := database.Ping(context.Background(), u, 10*time.Second); err != nil {
			return "", fmt.Errorf("TEST_DATABASE_URL does not answer: %w", err)
		}
		return u, nil
	}
	defaultErr := database.Ping(context.Background(), DefaultServerURL, 3*time.Second)
	if defaultErr == nil {
		return DefaultServerURL, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{
		DataDir:  filepath.Join(root, ".data", "test-postgres"),
		NoSync:   true,
		Settings: map[string]string{"max_connections": "300"},
	})
	if err != nil {
		return "", fmt.Errorf("nothing answers at %s (%v), and a private cluster did not start: %w", DefaultServerURL, defaultErr, err)
	}
	return c.URL("postgres"), nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testdb: no go.mod above the working directory")
		}
		dir = parent
	}
}

// URL returns the URL of a fresh database holding every migration, dropped
// when the test passes and kept for inspection when it fails.
func URL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, config(t), migrator{}).URL()
}

// New returns a connection (pgx stdlib driver) to a fresh migrated database.
func New(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func config(t testing.TB) pgtestdb.Config {
	t.Helper()
	u, err := url.Parse(ServerURL(t))
	if err != nil {
		t.Fatalf("test server URL: %v", err)
	}
	pw, _ := u.User.Password()
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	q := u.Query()
	opts := url.Values{}
	opts.Set("sslmode", "disable")
	if h := q.Get("host"); h != "" {
		opts.Set("host", h)
	}
	return pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      host,
		Port:                      port,
		User:                      u.User.Username(),
		Password:                  pw,
		Database:                  u.Path[1:],
		Options:                   opts.Encode(),
		ForceTerminateConnections: true,
	}
}

// migrator builds the template with the project's own engine, so every test
// database is exactly what `accounts migrate apply` produces.
type migrator struct{}

func (migrator) Hash() (string, error) {
	sum, err := migrations.FS.ReadFile(atlasmigrate.HashFileName)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(sum)
	return hex.EncodeToString(h[:]), nil
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return migrate.ApplyAll(ctx, db, &migrate.EmbeddedDir{FS: migrations.FS}, "accounts tests")
}
