package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"accounts/internal/config"
	"accounts/internal/pgcluster"
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
	target := writableURL(connString)
	for try := 1; ; try++ {
		// One try must not eat the whole budget when the server
		// black-holes packets, but it needs a few seconds to log in.
		err := pgcluster.Ping(ctx, target, max(every, 5*time.Second))
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

// writableURL is connString as wait-db must try it: one that lists several
// hosts without target_session_attrs asks for the writable host, as the
// pool does (preferWritable), so that a standby listed first does not
// count as the database being up.
func writableURL(connString string) string {
	cc, err := pgconn.ParseConfig(connString)
	if err != nil {
		return connString // Ping reports why it does not parse
	}
	preferWritable(connString, cc)
	if cc.ValidateConnect == nil {
		return connString
	}
	sep := " "
	if strings.Contains(connString, "://") {
		sep = "?"
		if strings.Contains(connString, "?") {
			sep = "&"
		}
	}
	return connString + sep + "target_session_attrs=read-write"
}
