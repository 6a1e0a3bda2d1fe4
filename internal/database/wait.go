package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"accounts/internal/config"
)

// Wait retries SELECT 1 on connString every interval until the database
// answers or timeout passes, logging each failed try with its reason. It is
// the pre-start step of the service: containers and the database may start
// in any order.
func Wait(ctx context.Context, connString string, every, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	where := config.RedactURL(connString)
	for try := 1; ; try++ {
		// One try must not eat the whole budget when the server
		// black-holes packets, but it needs a few seconds to log in.
		err := Ping(ctx, connString, max(every, 5*time.Second))
		if perr := Permanent(err, connString); perr != nil {
			return perr
		}
		if err == nil {
			if try > 1 {
				log.Info("database is up", "url", where, "tries", try, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		log.Warn("database not ready", "url", where, "try", try, "error", err.Error())
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.Canceled) {
				return ctx.Err()
			}
			return fmt.Errorf("database at %s did not answer SELECT 1 within %s (%d tries, one every %s); last error: %w",
				where, timeout, try, every, err)
		case <-time.After(every):
		}
	}
}

// Check makes one connection to connString and returns an error only when
// the answer is one that no retry can change (see Permanent): the
// commands that run once, such as users create-superadmin, say so at once
// instead of "try again shortly".
func Check(ctx context.Context, connString string, timeout time.Duration) error {
	return Permanent(Ping(ctx, connString, timeout), connString)
}

// Permanent returns err explained, with what to do, when it is a
// connection error that waiting cannot cure: a URL that does not parse, a
// database or role that does not exist, a password the server refuses, a
// client pg_hba.conf rejects. For any other error, a refused or timed-out
// connection or a server starting up, it returns nil: those are retried.
func Permanent(err error, connString string) error {
	if err == nil {
		return nil
	}
	cfg, perr := pgx.ParseConfig(connString)
	if perr != nil {
		return fmt.Errorf("the database URL %s does not parse; fix database.url (or DATABASE_URL) or the database.* parts: %w",
			config.RedactURL(connString), perr)
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return nil
	}
	where := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	switch pg.Code {
	case "3D000": // invalid_catalog_name
		return fmt.Errorf("database %q does not exist on %s; create it with `createdb -h %s -p %d %s` (or run `accounts dev`, which creates it), or set database.name (or the database in DATABASE_URL) to one that exists: %w",
			cfg.Database, where, cfg.Host, cfg.Port, cfg.Database, err)
	case "28P01": // invalid_password
		return fmt.Errorf("the server at %s refused the password of user %q; set database.password (or the password in DATABASE_URL) to that user's: %w",
			where, cfg.User, err)
	case "28000": // invalid_authorization_specification
		return fmt.Errorf("the server at %s does not let user %q in (a role that does not exist, or no pg_hba.conf entry for it); set database.user (or the user in DATABASE_URL) to a role that may connect, or create it with `createuser %s`: %w",
			where, cfg.User, cfg.User, err)
	}
	return nil
}

// Ping reports, within timeout, whether the database at connString
// accepts a new connection's login and answers SELECT 1: nil when it does,
// else why not. It is the one such check: wait-db and serve (Wait) retry
// it, accounts dev, the test harness and the benchmark use it to decide
// whether a server answers or a private cluster is needed. It applies
// preferWritable, so that a URL listing a standby before its primary waits
// for a host that accepts writes, as the pool and the migration engine
// will need.
func Ping(ctx context.Context, connString string, timeout time.Duration) error {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return err
	}
	preferWritable(connString, &cfg.Config)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	// The answer is what the check reports; a failed goodbye to a server
	// that answered changes nothing.
	defer func() { _ = conn.Close(context.Background()) }()
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}
