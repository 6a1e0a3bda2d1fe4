package migrate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// limitedServer makes a role with CREATEDB (not a superuser, so limits
// apply to it) and a database it administers from that allows one
// connection: holding that connection makes every new one fail, as a
// server out of connections does.
func limitedServer(t *testing.T) (adminURL string, hold func() (release func()), devExists func(name string) bool) {
	t.Helper()
	url := serverURL(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	super := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = super.Close() })
	role, dbName := randomName("migrole_"), randomName("migadmin_")
	execAll(t, super, "CREATE ROLE "+role+" LOGIN CREATEDB", "CREATE DATABASE "+dbName+" OWNER "+role+" CONNECTION LIMIT 1 TEMPLATE template0")
	t.Cleanup(func() {
		_, _ = super.Exec("DROP DATABASE IF EXISTS " + dbName + " WITH (FORCE)")
		rows, _ := super.Query("SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)", role)
		var names []string
		for rows != nil && rows.Next() {
			var n string
			_ = rows.Scan(&n)
			names = append(names, n)
		}
		for _, n := range names {
			_, _ = super.Exec("DROP DATABASE IF EXISTS " + quoteIdent(n) + " WITH (FORCE)")
		}
		_, _ = super.Exec("DROP ROLE IF EXISTS " + role)
	})
	c := cfg.Copy()
	c.User, c.Database = role, dbName
	hold = func() func() {
		db := stdlib.OpenDB(*c)
		t.Cleanup(func() { _ = db.Close() })
		// A closed connection's backend takes a moment to go.
		for i := 0; ; i++ {
			conn, err := db.Conn(context.Background())
			if err == nil {
				return func() { _ = conn.Close(); _ = db.Close() }
			}
			if i == 50 {
				var n int
				_ = super.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", dbName).Scan(&n)
				t.Fatal(n, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	devExists = func(name string) bool {
		var ok bool
		if err := super.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	adminURL = fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", role, c.Host, c.Port, dbName)
	return adminURL, hold, devExists
}

// The throw-away dev database is dropped over a fresh connection, retried
// while the server refuses connections, and when it still cannot be
// dropped the error gives the DROP DATABASE to run.
func TestThrowawayDevDatabaseIsNotLeaked(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	url, hold, exists := limitedServer(t)
	dev, err := openDev(ctx, DevDatabase{ServerURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	release := hold()
	go func() {
		time.Sleep(700 * time.Millisecond)
		release()
	}()
	if err := dev.close(); err != nil {
		t.Fatalf("drop while the server refused connections for a moment: %v", err)
	}
	if exists(dev.name) {
		t.Fatalf("dev database %s leaked", dev.name)
	}

	// The connection the first close used, and the one release closed,
	// leave their backends a moment after they are closed; until they have
	// gone, the limit of one refuses this connection too.
	for i := 0; ; i++ {
		if dev, err = openDev(ctx, DevDatabase{ServerURL: url}, nil); err == nil {
			break
		}
		if i == 50 || !strings.Contains(err.Error(), "53300") {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	hold()
	err = dev.close()
	if err == nil || !strings.Contains(err.Error(), `DROP DATABASE IF EXISTS "`+dev.name+`" WITH (FORCE)`) {
		t.Fatalf("drop that cannot connect: %v (dev database exists: %v)", err, exists(dev.name))
	}
}
