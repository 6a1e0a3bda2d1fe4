package database

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sqlEcho logs each statement and its duration. Arguments are never logged:
// they carry password hashes and token hashes.
type sqlEcho struct{ log *slog.Logger }

type echoStartKey struct{}

type echoStart struct {
	sql   string
	start time.Time
}

func (e *sqlEcho) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, echoStartKey{}, echoStart{sql: data.SQL, start: time.Now()})
}

func (e *sqlEcho) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	s, _ := ctx.Value(echoStartKey{}).(echoStart)
	attrs := []slog.Attr{
		slog.String("sql", s.sql),
		slog.Duration("duration", time.Since(s.start)),
		slog.Int64("rows", data.CommandTag.RowsAffected()),
	}
	if data.Err != nil {
		attrs = append(attrs, slog.String("error", data.Err.Error()))
	}
	e.log.LogAttrs(ctx, slog.LevelInfo, "sql", attrs...)
}

// echoPool installs pool hooks that log connection lifecycle events, chained
// after any hooks already set.
func echoPool(pc *pgxpool.Config, log *slog.Logger) {
	pid := func(c *pgx.Conn) slog.Attr { return slog.Uint64("backend_pid", uint64(c.PgConn().PID())) }
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		log.LogAttrs(ctx, slog.LevelInfo, "pool connect", pid(c))
		return nil
	}
	pc.PrepareConn = func(ctx context.Context, c *pgx.Conn) (bool, error) {
		log.LogAttrs(ctx, slog.LevelInfo, "pool acquire", pid(c))
		return true, nil
	}
	pc.AfterRelease = func(c *pgx.Conn) bool {
		log.LogAttrs(context.Background(), slog.LevelInfo, "pool release", pid(c))
		return true
	}
	pc.BeforeClose = func(c *pgx.Conn) {
		log.LogAttrs(context.Background(), slog.LevelInfo, "pool close", pid(c))
	}
}
