package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// LockName is the advisory-lock name the Atlas CLI takes around `migrate
// apply`. Using the same name (hashed the same way) makes `accounts migrate`
// and `atlas migrate apply` exclude each other too.
const LockName = "atlas_migrate_execute"

// lockID is the PostgreSQL advisory-lock key of LockName, computed as the
// Atlas PostgreSQL driver does (FNV-32 of the name).
func lockID(name string) int64 {
	h := fnv.New32()
	h.Write([]byte(name))
	return int64(h.Sum32())
}

// acquireLock takes the session-level advisory lock on conn, waiting as long
// as ctx allows (timeout > 0 bounds the wait). It polls with
// pg_try_advisory_lock instead of blocking in pg_advisory_lock: a waiter
// blocked inside a statement would hold a snapshot, and a CREATE INDEX
// CONCURRENTLY run by the lock holder waits for every such snapshot, which
// would deadlock the two.
func acquireLock(ctx context.Context, conn *sql.Conn, timeout time.Duration, waiting func()) (release func() error, err error) {
	id := lockID(LockName)
	start := time.Now()
	delay := 25 * time.Millisecond
	told := false
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil {
			return nil, fmt.Errorf("take the migration lock: %w", err)
		}
		if ok {
			break
		}
		if timeout > 0 && time.Since(start) > timeout {
			return nil, fmt.Errorf("another migration run has held the migration lock (advisory lock %d) for over %s; "+
				"wait for it to finish, or find it in pg_locks (locktype = 'advisory')", id, timeout)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for the migration lock: %w", ctx.Err())
		case <-t.C:
		}
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
	return func() error {
		// Unlock with a fresh context: the caller's may be cancelled, and
		// the lock must not outlive the run on a pooled connection.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var released bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", id).Scan(&released); err != nil {
			return fmt.Errorf("release the migration lock: %w", err)
		}
		if !released {
			return fmt.Errorf("release the migration lock: lock %d was not held", id)
		}
		return nil
	}, nil
}

// session validates dir and opens the one connection a run of apply or down
// works on, holding the migration lock on it unless dryRun (a dry run
// changes nothing, so it need not wait for anyone). close releases the lock
// and the connection.
func session(ctx context.Context, db *sql.DB, dir atlasmigrate.Dir, dryRun bool, timeout time.Duration, out *output) (conn *sql.Conn, close func() error, err error) {
	if err := Validate(dir); err != nil {
		return nil, nil, err
	}
	conn, err = db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the database: %w", err)
	}
	if dryRun {
		return conn, conn.Close, nil
	}
	if err := requireWritable(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	unwatch := watchClient(ctx, conn)
	release, err := acquireLock(ctx, conn, timeout, func() {
		out.println("Waiting for another migration run to finish (migration lock held)...")
	})
	if err != nil {
		unwatch()
		_ = conn.Close()
		return nil, nil, err
	}
	return conn, func() error { err := release(); unwatch(); return errors.Join(err, conn.Close()) }, nil
}

// clientCheckInterval is how often the server checks, while a migration
// statement runs, that the migrating client is still connected.
const clientCheckInterval = "1s"

// watchClient asks the server to notice when this client dies mid-file. A
// migrate killed with SIGKILL (or a lost container or network) otherwise
// leaves its backend running the current statement for as long as a
// backfill or an index build takes, with the file's transaction open: it
// keeps the migration lock, so every later apply and serve --migrate waits,
// and the file's locks (an ALTER TABLE holds ACCESS EXCLUSIVE, so the
// service cannot read the table). With client_connection_check_interval
// (PostgreSQL 14 and later, on Linux) the server polls the socket while a
// statement runs and ends the backend within the interval, which rolls the
// file back and releases both. A server that does not know the setting
// refuses it, which is no reason to fail. The returned func resets it, as
// conn goes back to a pool the service may share.
func watchClient(ctx context.Context, conn *sql.Conn) (unwatch func()) {
	if _, err := conn.ExecContext(ctx, "SET client_connection_check_interval = '"+clientCheckInterval+"'"); err != nil {
		return func() {}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, "RESET client_connection_check_interval")
	}
}
