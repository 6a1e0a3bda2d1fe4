package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

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
		err := ping(ctx, connString, max(every, 5*time.Second))
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

// ping runs SELECT 1 on a new connection made within timeout. Unlike
// pgcluster.Ping it applies preferWritable, so that a URL listing a standby
// before its primary waits for a host that accepts writes, as the pool and
// the migration engine will need.
func ping(ctx context.Context, connString string, timeout time.Duration) error {
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
	defer func() { _ = conn.Close(context.Background()) }()
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}
