// Package database opens the one connection pool of the service: a pgxpool
// with the pool semantics of the SQLAlchemy settings the service's
// configuration keeps. Ent runs on the pool through a driver of this package
// (entdriver.go); the migration engine, which Atlas drives through
// database/sql, gets the same pool through stdlib.GetPoolConnector.
//
// How the settings map onto pgxpool:
//
//	pool_size + max_overflow  MaxConns: the most connections open at once.
//	pool_size                 MinConns: kept open (warm) even when idle.
//	max_overflow              connections above pool_size are closed once
//	                          idle for OverflowIdle (SQLAlchemy closes them at
//	                          once on release; a short grace avoids reconnect
//	                          churn under bursty load).
//	pool_timeout              the longest wait for a connection: past it the
//	                          query fails with ErrPoolExhausted, never hangs.
//	pool_recycle              MaxConnLifetime.
//	pool_pre_ping             ShouldPing: a connection idle for over a second
//	                          is pinged before it is handed out, and replaced
//	                          if the ping fails.
//	echo                      a pgx tracer logs every statement (never its
//	                          arguments) with its duration.
//	echo_pool                 pool hooks log connect, acquire, release, close.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"accounts/ent"
	"accounts/internal/config"
)

// OverflowIdle is how long a connection above pool_size may sit idle before
// the pool closes it.
const OverflowIdle = 10 * time.Second

// ErrPoolExhausted is returned when no connection became free within
// pool_timeout.
var ErrPoolExhausted = errors.New("database connection pool exhausted")

// DB is the opened database: the pool, the database/sql view of it that the
// migration engine uses, and the Ent client, which runs on the pool.
type DB struct {
	Pool *pgxpool.Pool
	SQL  *sql.DB
	Ent  *ent.Client
	// Driver is the driver the Ent client runs on, for statements built
	// once with Ent's SQL builder rather than per call (internal/account).
	Driver dialect.Driver
}

// Close closes the Ent client and the pool.
func (d *DB) Close() {
	_ = d.Ent.Close()
	d.Pool.Close()
}

// PoolConfig turns the settings into a pgxpool configuration.
func PoolConfig(cfg config.Database, log *slog.Logger) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(cfg.ConnString())
	if err != nil {
		return nil, fmt.Errorf("database URL (%s): %w", config.RedactURL(cfg.ConnString()), err)
	}
	preferWritable(cfg.ConnString(), &pc.ConnConfig.Config)
	pc.MaxConns = int32(cfg.PoolSize + cfg.MaxOverflow)
	pc.MinConns = int32(cfg.PoolSize)
	pc.MaxConnIdleTime = OverflowIdle
	// The health check is what closes idle overflow connections and reopens
	// warm ones, so it must run more often than OverflowIdle.
	pc.HealthCheckPeriod = OverflowIdle / 2
	pc.MaxConnLifetime = cfg.PoolRecycle
	pc.MaxConnLifetimeJitter = cfg.PoolRecycle / 10
	if pc.ConnConfig.ConnectTimeout == 0 || pc.ConnConfig.ConnectTimeout > cfg.PoolTimeout {
		pc.ConnConfig.ConnectTimeout = cfg.PoolTimeout
	}
	if cfg.PrePing {
		pc.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration > time.Second }
		pc.PingTimeout = 5 * time.Second
	} else {
		pc.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	}
	modes := map[string]pgx.QueryExecMode{
		"cache_statement": pgx.QueryExecModeCacheStatement,
		"cache_describe":  pgx.QueryExecModeCacheDescribe,
		"describe_exec":   pgx.QueryExecModeDescribeExec,
		"exec":            pgx.QueryExecModeExec,
		"simple_protocol": pgx.QueryExecModeSimpleProtocol,
	}
	if m, ok := modes[cfg.ExecMode]; ok {
		pc.ConnConfig.DefaultQueryExecMode = m
	}
	if cfg.Echo {
		pc.ConnConfig.Tracer = &sqlEcho{log: log}
	}
	if cfg.EchoPool {
		echoPool(pc, log)
	}
	return pc, nil
}

// Open connects the pool and builds the Ent client on top of it. It does not
// wait for the database; see Wait.
func Open(ctx context.Context, cfg config.Database, log *slog.Logger) (*DB, error) {
	pc, err := PoolConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	conn := timeoutConnector{
		Connector: stdlib.GetPoolConnector(pool),
		timeout:   cfg.PoolTimeout,
		max:       pc.MaxConns,
	}
	db := sql.OpenDB(conn)
	// The pgxpool owns the connections; database/sql must not keep its own
	// idle ones, or it would starve direct users of the pool.
	db.SetMaxIdleConns(0)
	drv := &entDriver{pool: pool, db: db, timeout: cfg.PoolTimeout}
	return &DB{Pool: pool, SQL: db, Ent: ent.NewClient(ent.Driver(drv)), Driver: drv}, nil
}

// timeoutConnector bounds the wait for a pool connection by pool_timeout.
type timeoutConnector struct {
	driver.Connector
	timeout time.Duration
	max     int32
}

func (c timeoutConnector) Connect(ctx context.Context) (driver.Conn, error) {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.Connector.Connect(tctx)
	if err != nil {
		return nil, exhausted(ctx, tctx, err, c.timeout, c.max)
	}
	return conn, nil
}
