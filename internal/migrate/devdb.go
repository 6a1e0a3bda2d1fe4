package migrate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// DevDatabase says where the dev database comes from: the scratch database
// on which diff, check, down and lint replay the migration directory.
type DevDatabase struct {
	// URL names a dev database to use as is (--dev-url). It must be empty;
	// it is emptied again afterwards.
	URL string
	// ServerURL names a server (any database on it) on which a throw-away
	// database with a random name is created, and dropped afterwards, also
	// on error or cancellation. Used when URL is empty.
	ServerURL string
}

// DevDatabasePrefix starts the name of every throw-away dev database.
const DevDatabasePrefix = "accounts_dev_"

// devDatabasePrefixOfProcess starts the names of the dev databases this
// process creates: the process id in the name tells an operator which
// process left one behind (only a kill -9 can), and lets a test count its
// own while other processes use the same server.
func devDatabasePrefixOfProcess() string {
	return DevDatabasePrefix + strconv.Itoa(os.Getpid()) + "_"
}

// devDB is an open dev database.
type devDB struct {
	db      *sql.DB
	drv     atlasmigrate.Driver
	name    string
	cleanup func() error
}

func (d *devDB) close() error { return d.cleanup() }

// openDev opens the dev database. fallback, when not nil, is a database
// whose server hosts the throw-away database when neither URL is given.
func openDev(ctx context.Context, d DevDatabase, fallback *sql.DB) (*devDB, error) {
	if d.URL != "" {
		return openGivenDev(ctx, d.URL)
	}
	var cfg *pgx.ConnConfig
	switch {
	case d.ServerURL != "":
		c, err := pgx.ParseConfig(d.ServerURL)
		if err != nil {
			return nil, fmt.Errorf("parse the database URL for the dev database: %w", err)
		}
		cfg = c
	case fallback != nil:
		c, err := configOf(ctx, fallback)
		if err != nil {
			return nil, err
		}
		cfg = c
	default:
		return nil, errors.New("no dev database: give a dev database URL (--dev-url) or a database URL whose server can host a throw-away database")
	}
	return createThrowaway(ctx, cfg)
}

// configOf returns the connection settings of db (opened with the pgx
// stdlib driver), to reach its server again.
func configOf(ctx context.Context, db *sql.DB) (*pgx.ConnConfig, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	defer func() { _ = conn.Close() }() // read only: it just goes back to the pool
	var cfg *pgx.ConnConfig
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("the database was not opened with the pgx stdlib driver (%T); give a dev database URL", dc)
		}
		cfg = c.Conn().Config()
		return nil
	})
	return cfg, err
}

func createThrowaway(ctx context.Context, cfg *pgx.ConnConfig) (*devDB, error) {
	admin := stdlib.OpenDB(*cfg)
	// admin only created a database (or failed to): closing it loses nothing.
	defer func() { _ = admin.Close() }()
	if err := admin.PingContext(ctx); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
			return nil, fmt.Errorf("connect to %s:%d to create the throw-away dev database: %w", cfg.Host, cfg.Port, err)
		}
		// The configured database does not exist yet; every server has
		// the postgres database.
		cfg = cfg.Copy()
		cfg.Database = "postgres"
		_ = admin.Close() // it never connected
		admin = stdlib.OpenDB(*cfg)
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	name := devDatabasePrefixOfProcess() + hex.EncodeToString(suffix)
	// template0 is guaranteed empty; template1 may carry local additions.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(name)+" TEMPLATE template0"); err != nil {
		return nil, fmt.Errorf("create the throw-away dev database on %s:%d (the user needs CREATEDB, or give --dev-url): %w", cfg.Host, cfg.Port, err)
	}
	drop := func() error { return dropThrowaway(cfg, name) }
	devCfg := cfg.Copy()
	devCfg.Database = name
	db := stdlib.OpenDB(*devCfg)
	drv, err := postgres.Open(db)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open the dev database: %w", err), db.Close(), drop())
	}
	return &devDB{db: db, drv: drv, name: name, cleanup: func() error {
		return errors.Join(db.Close(), drop())
	}}, nil
}

// dropRetryWaits are the pauses between attempts to drop a throw-away dev
// database: a server out of connections ("too many clients") usually has
// one again within seconds.
var dropRetryWaits = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}

// dropThrowaway drops the throw-away dev database name over a fresh
// connection, with a fresh context (the caller's may be cancelled by
// Ctrl-C, and the database must go regardless), retrying; when it still
// cannot, the error gives the statement to run by hand.
func dropThrowaway(cfg *pgx.ConnConfig, name string) error {
	stmt := "DROP DATABASE IF EXISTS " + quoteIdent(name) + " WITH (FORCE)"
	var err error
	for i := 0; i <= len(dropRetryWaits); i++ {
		if i > 0 {
			time.Sleep(dropRetryWaits[i-1])
		}
		if err = execFresh(cfg, stmt); err == nil {
			return nil
		}
	}
	return fmt.Errorf("drop the throw-away dev database %s (tried %d times): %w\nit is left on %s:%d; drop it with:\n  %s;",
		name, len(dropRetryWaits)+1, err, cfg.Host, cfg.Port, stmt)
}

func execFresh(cfg *pgx.ConnConfig, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, stmt)
	return errors.Join(err, conn.Close(context.Background()))
}

func openGivenDev(ctx context.Context, url string) (*devDB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse the dev database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	drv, err := postgres.Open(db)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open the dev database %s: %w", cfg.Database, err), db.Close())
	}
	if err := drv.CheckClean(ctx, nil); err != nil {
		return nil, errors.Join(fmt.Errorf("the dev database %s must be empty: %w", cfg.Database, err), db.Close())
	}
	restore, err := drv.Snapshot(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("the dev database %s must be empty: %w", cfg.Database, err), db.Close())
	}
	return &devDB{db: db, drv: drv, name: cfg.Database, cleanup: func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := restore(ctx)
		if err != nil {
			err = fmt.Errorf("empty the dev database %s again: %w", cfg.Database, err)
		}
		return errors.Join(err, db.Close())
	}}, nil
}
