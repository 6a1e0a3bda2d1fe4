// Package database opens the one connection pool of the service and the
// Ent client on it, in the stack the design names:
//
//	pgxpool → stdlib.OpenDBFromPool → entsql.OpenDB(dialect.Postgres, db) → ent.NewClient
//
// Every statement of the service, the migration engine's and /readyz's
// included, goes through that *sql.DB, so the pool settings below hold for
// all of them. The settings keep the names of the SQLAlchemy settings of
// the service this one replaces; how each maps onto pgxpool:
//
//	pool_size + max_overflow  MaxConns: the most connections open at once.
//	pool_size                 MinConns: kept open (warm) even when idle.
//	max_overflow              connections above pool_size are closed once
//	                          idle for OverflowIdle (SQLAlchemy closes them at
//	                          once on release; a short grace avoids reconnect
//	                          churn under bursty load).
//	pool_timeout              the longest wait for a connection, enforced in
//	                          one place: a deadline on every pgxpool acquire
//	                          (acquireDeadline). Past it the statement fails
//	                          with context.DeadlineExceeded and the wait is
//	                          logged as "database connection pool exhausted";
//	                          it never hangs.
//	pool_recycle              MaxConnLifetime (with 10 % jitter).
//	pool_pre_ping             ShouldPing: a connection idle for over a second
//	                          is pinged before it is handed out, and replaced
//	                          if the ping fails.
//	echo                      a pgx tracer logs every statement (never its
//	                          arguments) with its duration.
//	echo_pool                 pool hooks log connect, acquire, release, close.
//
// database/sql keeps an idle pool of its own on top of pgxpool's; here it
// keeps none (SetMaxIdleConns(0), as stdlib.OpenDBFromPool sets) and has no
// limit of its own (SetMaxOpenConns(0)), so every statement borrows its
// connection from pgxpool and gives it back when it is done. An idle
// connection held by database/sql would be "in use" for pgxpool: the idle
// timeout, the lifetime, the pre-ping and the health check could not reach
// it, the pool metrics would count it as busy, and a database/sql limit
// would queue statements in front of pgxpool, where no pool_timeout
// applies. The price is a small wrapper allocated per statement, which the
// benchmark (BenchmarkUserByID) shows beside the raw pgxpool query.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"accounts/ent"
	"accounts/internal/config"
)

// OverflowIdle is how long a connection above pool_size may sit idle before
// the pool closes it.
const OverflowIdle = 10 * time.Second

// DB is the opened database: the *sql.DB on the pool, Ent's driver on it,
// and the Ent client on that driver.
type DB struct {
	// SQL is the pool as database/sql sees it: the migration engine and
	// /readyz use it.
	SQL *sql.DB
	// Driver is Ent's own SQL driver, the one the Ent client runs on, for
	// the statements built once with Ent's SQL builder (internal/account).
	Driver *entsql.Driver
	Ent    *ent.Client

	pool *pgxpool.Pool
}

// Stat returns the pool's statistics, for the metrics.
func (d *DB) Stat() *pgxpool.Stat { return d.pool.Stat() }

// Close closes the Ent client, which closes the *sql.DB, then the pool
// (closing a *sql.DB from OpenDBFromPool leaves the pool open).
func (d *DB) Close() {
	_ = d.Ent.Close()
	d.pool.Close()
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
	// A connection attempt runs apart from the acquire that started it (it
	// outlives a waiter that gives up), so it needs its own bound.
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
	tracer := &multitracer.Tracer{PoolAcquireTracers: []pgxpool.AcquireTracer{
		&acquireDeadline{timeout: cfg.PoolTimeout, maxConns: pc.MaxConns, log: log},
	}}
	if cfg.Echo {
		tracer.QueryTracers = append(tracer.QueryTracers, &sqlEcho{log: log})
	}
	pc.ConnConfig.Tracer = tracer
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
	db := stdlib.OpenDBFromPool(pool)
	// The package comment says why database/sql pools nothing itself.
	db.SetMaxIdleConns(0)
	db.SetMaxOpenConns(0)
	drv := entsql.OpenDB(dialect.Postgres, db)
	return &DB{SQL: db, Driver: drv, Ent: ent.NewClient(ent.Driver(drv)), pool: pool}, nil
}

// acquireDeadline bounds every wait for a pool connection by pool_timeout:
// pgxpool runs Acquire under the context TraceAcquireStart returns. It is
// the one place pool_timeout is enforced, for Ent, the migration engine
// and /readyz alike, since all of them borrow through database/sql from
// the pool.
type acquireDeadline struct {
	timeout  time.Duration
	maxConns int32
	log      *slog.Logger
}

// acquireCtx is the context of one Acquire: the deadline, and what
// TraceAcquireEnd needs to end it and to tell whose deadline passed.
type acquireCtx struct {
	context.Context
	parent context.Context
	cancel context.CancelFunc
}

// TraceAcquireStart implements pgxpool.AcquireTracer.
func (a *acquireDeadline) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	tctx, cancel := context.WithTimeout(ctx, a.timeout)
	return &acquireCtx{Context: tctx, parent: ctx, cancel: cancel}
}

// TraceAcquireEnd implements pgxpool.AcquireTracer. A wait that pool_timeout
// cut short, not the caller, is logged: the statement's error is the
// context's, and the log line is what tells an operator the pool is too
// small or the database too slow.
func (a *acquireDeadline) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	ac, ok := ctx.(*acquireCtx)
	if !ok {
		return
	}
	if data.Err != nil && errors.Is(data.Err, context.DeadlineExceeded) && ac.parent.Err() == nil {
		a.log.LogAttrs(ac.parent, slog.LevelWarn, "database connection pool exhausted",
			slog.Duration("pool_timeout", a.timeout), slog.Int("max_conns", int(a.maxConns)))
	}
	ac.cancel()
}
