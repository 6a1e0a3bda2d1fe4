package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults of the ApplyOptions that keep a migration from queueing the
// service's requests behind it.
const (
	// DefaultStatementLockTimeout is the lock_timeout of each migration
	// statement: how long it may wait for a table lock. While it waits,
	// every request that needs a conflicting lock on that table queues
	// behind it, so the wait is kept short and retried instead.
	DefaultStatementLockTimeout = 3 * time.Second
	// DefaultLockRetries is how often a statement that hit lock_timeout is
	// tried again.
	DefaultLockRetries = 5
	// DefaultLockRetryBackoff is the first wait before such a retry; each
	// later wait doubles, up to maxLockRetryBackoff.
	DefaultLockRetryBackoff = time.Second
	maxLockRetryBackoff     = 10 * time.Second
)

// lockPolicy is the lock_timeout and retry schedule of one run of Apply.
type lockPolicy struct {
	timeout time.Duration // 0: no lock_timeout
	retries int
	backoff time.Duration
}

// LockOptions sets ApplyOptions' StatementLockTimeout and LockRetries from
// configuration values, where 0 turns the feature off (no lock_timeout, no
// retry) rather than asking for the default.
func (o ApplyOptions) LockOptions(lockTimeout time.Duration, retries int) ApplyOptions {
	o.StatementLockTimeout, o.LockRetries = lockTimeout, retries
	if lockTimeout == 0 {
		o.StatementLockTimeout = -1
	}
	if retries == 0 {
		o.LockRetries = -1
	}
	return o
}

// lockPolicyOf fills in the defaults: zero fields take them, negative ones
// turn the feature off.
func lockPolicyOf(o ApplyOptions) lockPolicy {
	p := lockPolicy{timeout: o.StatementLockTimeout, retries: o.LockRetries, backoff: o.LockRetryBackoff}
	switch {
	case p.timeout == 0:
		p.timeout = DefaultStatementLockTimeout
	case p.timeout < 0:
		p.timeout = 0
	}
	switch {
	case p.retries == 0:
		p.retries = DefaultLockRetries
	case p.retries < 0:
		p.retries = 0
	}
	if p.backoff <= 0 {
		p.backoff = DefaultLockRetryBackoff
	}
	return p
}

// wait is the pause before retry n (1-based).
func (p lockPolicy) wait(n int) time.Duration {
	d := p.backoff
	for i := 1; i < n && d < maxLockRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxLockRetryBackoff)
}

// setLockTimeout sets lock_timeout on the session every migration statement
// runs on (before any transaction, so it outlives rollbacks); the returned
// func resets it, as conn goes back to a pool the service may share.
func setLockTimeout(ctx context.Context, conn *sql.Conn, p lockPolicy) (reset func(), err error) {
	if p.timeout <= 0 {
		return func() {}, nil
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET lock_timeout = %d", p.timeout.Milliseconds())); err != nil {
		return nil, fmt.Errorf("set lock_timeout for the migration: %w", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, "RESET lock_timeout")
	}, nil
}

// isLockTimeout reports whether err is PostgreSQL's lock_not_available
// (55P03), which a statement gets when it waited lock_timeout for a lock.
func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}

// fileRetryingLocks applies f and, when a statement of it gave up waiting
// for a lock, applies it again after a pause, up to the policy's number of
// retries, printing each wait. In tx-mode file the failed attempt was rolled
// back, so its locks are released while it waits; without a transaction the
// retry resumes at the statement that timed out. In tx-mode all the run's
// transaction is gone with the failure, so there is nothing to retry.
func (a *applyRun) fileRetryingLocks(f atlasmigrate.File, mode TxMode) (FileResult, error) {
	locks := lockPolicyOf(a.opts)
	for n := 1; ; n++ {
		res, err := a.file(f, mode)
		if err == nil || !isLockTimeout(err) || mode == TxModeAll || n > locks.retries {
			return res, err
		}
		wait := locks.wait(n)
		stmt := "a statement"
		var se *StatementError
		if errors.As(err, &se) {
			stmt = fmt.Sprintf("statement %d (%s)", se.Index, oneLine(se.Stmt))
		}
		a.out.printf("  %s: %s waited lock_timeout (%s) for a lock held by another session; retry %d of %d in %s\n",
			f.Name(), stmt, locks.timeout, n, locks.retries, wait)
		t := time.NewTimer(wait)
		select {
		case <-a.ctx.Done():
			t.Stop()
			return res, errors.Join(err, a.ctx.Err())
		case <-t.C:
		}
	}
}

// stmtRunner is the connection migration statements run on. Before a
// CREATE INDEX it drops an INVALID index of the same name: a CREATE INDEX
// CONCURRENTLY that failed, timed out on a lock or was killed leaves one
// behind, and the next run, resuming at that statement, would otherwise
// fail on "already exists" (or, with IF NOT EXISTS, keep the unusable
// index).
type stmtRunner struct {
	execQuerier
	out *output
}

func (r stmtRunner) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := r.dropInvalidIndex(ctx, query, "  index %s is INVALID (left by an interrupted CREATE INDEX CONCURRENTLY): %s, then building it again\n"); err != nil {
		return nil, err
	}
	res, err := r.execQuerier.ExecContext(ctx, query, args...)
	if err == nil || !concurrentStmt(query) {
		return res, err
	}
	// A failed CREATE INDEX CONCURRENTLY (duplicate values, a lock
	// timeout) leaves an INVALID index that every write still maintains:
	// drop it now rather than leave it until the next run (or forever).
	if derr := r.dropInvalidIndex(context.WithoutCancel(ctx), query, "  index %s was left INVALID by the failed build: %s\n"); derr != nil {
		return nil, errors.Join(err, derr)
	}
	if m := createIndexStmt.FindStringSubmatch(stripLeadingComments(query)); m != nil {
		return nil, fmt.Errorf("%w (dropped the INVALID index %s the failed build left)", err, quoteIdent(unquoteIdent(m[2])))
	}
	return nil, err
}

var createIndexStmt = regexp.MustCompile(`(?is)^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(` + sqlIdent + `)\s+ON\s+(?:ONLY\s+)?(` + sqlQIdent + `)`)

// dropInvalidIndex drops the INVALID index that stmt, a CREATE INDEX,
// builds, if there is one, saying so through format (index name, DROP
// statement).
func (r stmtRunner) dropInvalidIndex(ctx context.Context, stmt, format string) error {
	m := createIndexStmt.FindStringSubmatch(stripLeadingComments(stmt))
	if m == nil {
		return nil
	}
	concurrently, name, table := m[1] != "", unquoteIdent(m[2]), m[3]
	var nsp string
	err := r.QueryRowContext(ctx, `
SELECT n.nspname FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $1 AND NOT i.indisvalid
  AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($2))`, name, table).Scan(&nsp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("look for an INVALID index %s: %w", name, err)
	}
	drop := "DROP INDEX "
	if concurrently {
		drop += "CONCURRENTLY "
	}
	drop += quoteIdent(nsp) + "." + quoteIdent(name)
	r.out.printf(format, name, drop)
	if _, err := r.execQuerier.ExecContext(ctx, drop); err != nil {
		return fmt.Errorf("drop the INVALID index %s: %w", name, err)
	}
	return nil
}

func stripLeadingComments(stmt string) string {
	s := strings.TrimSpace(stmt)
	for strings.HasPrefix(s, "--") {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return ""
		}
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}
