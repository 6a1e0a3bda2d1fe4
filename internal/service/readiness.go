package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"accounts/internal/account"
	"accounts/internal/migrate"
)

// readiness returns the /readyz check of a build whose migration files are
// o.Migrations and the gate of the API (nil while the database has every
// file of the build), logs where the database stands against them, and
// adds the drift check and the recheck of a database behind to the jobs
// Run starts.
//
// Ready means every file of the build is applied, whatever else the
// database has: during a rolling deploy the new release applies its files
// while the old one still serves, and the old one must stay in the load
// balancer until the new one has capacity. A database ahead of the build
// is logged at INFO for that reason; one that lacks a file of the build is
// not ready, the reason names the files and what to run, and the API
// answers 503 until they are applied, instead of a 500 from a table that
// does not exist yet.
func (p *Process) readiness(ctx context.Context, o Options) (*readiness, error) {
	dir, advise := o.Migrations, o.Advise
	build, err := migrate.NewBuildFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("migration directory: %w", err)
	}
	if advise == nil {
		advise = func(s string) string { return s }
	}
	r := &readiness{p: p, build: build, advise: advise}
	server := o.DriftServerURL
	if server == "" {
		server = p.cfg.Database.ConnString()
	}
	p.jobs = append(p.jobs, p.driftJob(dir, server, o.DriftChecks), r.recheckJob)
	// The state is known from the start, not only after the first probe.
	sctx, cancel := context.WithTimeout(ctx, p.cfg.HTTP.ReadyTimeout)
	st, _ := r.check(sctx)
	cancel()
	if ahead := st.Ahead(); ahead != "" {
		p.log.Info(ahead, "version", st.Current, "build", build.Head())
	}
	return r, nil
}

// readiness is where the database stands against the build's migration
// files, as last read: by /readyz, at start, and every recheckEvery while
// the database is behind, so that the API opens once someone applies the
// migrations even when nothing probes.
type readiness struct {
	p      *Process
	build  *migrate.BuildFiles
	advise func(string) string
	// behind closes the API. A database that cannot be read leaves it as
	// it was: an outage is answered 503 by the storage layer already.
	behind atomic.Bool

	mu     sync.Mutex
	logged *string // the state last logged (nil: none yet, "" ready)
}

// recheckEvery is how often a database behind the build is read again,
// and the Retry-After of the API's 503 meanwhile.
const recheckEvery = 5 * time.Second

// Behind returns the answer of the API while the database lacks files of
// the build, nil when it has them; it makes no query. The reason and what
// to run are for the operator, in the log and /readyz.
func (r *readiness) Behind() error {
	if !r.behind.Load() {
		return nil
	}
	return &account.Error{
		Code:       account.CodeServiceUnavailable,
		Message:    "the service is being upgraded: its database is not migrated to this release yet; try again shortly",
		RetryAfter: recheckEvery,
	}
}

// Check answers /readyz within http.ready_timeout (the handler bounds
// ctx): the database answers and has every file of the build. Its errors
// are shown to clients, so they say what is wrong without the driver's
// text (which names hosts and users); the log has that text.
func (r *readiness) Check(ctx context.Context) error {
	_, err := r.check(ctx)
	return err
}

// check reads the state, updates the API's gate and logs the state when it
// changed. The state is empty when it cannot be read.
func (r *readiness) check(ctx context.Context) (*migrate.BuildState, error) {
	p, timeout := r.p, r.p.cfg.HTTP.ReadyTimeout
	if err := p.db.SQL.PingContext(ctx); err != nil {
		if ctx.Err() != nil {
			return &migrate.BuildState{}, r.note(fmt.Errorf("the database did not answer within %s", timeout), err)
		}
		return &migrate.BuildState{}, r.note(errors.New("the database does not answer"), err)
	}
	st, err := migrate.ReadBuildState(ctx, p.db.SQL, r.build, p.revisionSchema())
	if err != nil {
		if ctx.Err() != nil {
			return &migrate.BuildState{}, r.note(fmt.Errorf("the migration state of the database could not be read within %s", timeout), err)
		}
		return &migrate.BuildState{}, r.note(errors.New("the migration state of the database cannot be read"), err)
	}
	p.metrics.SetMigration(st.Current, r.build.Head(), len(st.Newer))
	if lacking := st.Ready(); lacking != nil {
		pending := "1 migration pending"
		if n := len(st.Lacking); n != 1 {
			pending = fmt.Sprintf("%d migrations pending", n)
		}
		reason := r.advise(pending+": run `accounts migrate apply` or start with --migrate") + " (" + lacking.Error() + ")"
		r.behind.Store(true)
		return st, r.note(errors.New(reason), nil)
	}
	r.behind.Store(false)
	return st, r.note(nil, nil)
}

// note logs the readiness reason (nil: ready) when it differs from the one
// logged last, with cause, the error behind it, for the operator; and
// returns reason.
func (r *readiness) note(reason, cause error) error {
	state := ""
	if reason != nil {
		state = reason.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logged != nil && *r.logged == state {
		return reason
	}
	r.logged = &state
	head := r.build.Head()
	switch {
	case reason == nil:
		r.p.log.Info("ready", "build", head)
	case cause != nil:
		r.p.log.Warn("not ready", "reason", state, "build", head, "error", cause.Error())
	default:
		r.p.log.Warn("not ready", "reason", state, "build", head)
	}
	return reason
}

// recheckJob reads the state again every recheckEvery while the API is
// closed, until ctx ends.
func (r *readiness) recheckJob(ctx context.Context) {
	t := time.NewTicker(recheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r.behind.Load() {
			cctx, cancel := context.WithTimeout(ctx, r.p.cfg.HTTP.ReadyTimeout)
			_, _ = r.check(cctx) // logged by check
			cancel()
		}
	}
}

// The first drift check waits a minute, so a process that starts and stops
// (a test, a crash loop) creates no dev database; then it runs every 15.
const (
	driftFirstCheck = time.Minute
	driftInterval   = 15 * time.Minute
)

// driftJob compares the live schema with what the applied migration files
// make, now and then, for accounts_migration_drift_objects and a WARN log
// line naming the objects. /readyz does not depend on it: a DBA's extra
// index is no reason to take a replica out of the load balancer.
func (p *Process) driftJob(dir atlasmigrate.Dir, server string, when DriftSchedule) job {
	first, every := cmp.Or(when.First, driftFirstCheck), cmp.Or(when.Every, driftInterval)
	return func(ctx context.Context) {
		t := time.NewTimer(first)
		defer t.Stop()
		warned := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			warned = p.checkDrift(ctx, dir, server, warned)
			t.Reset(every)
		}
	}
}

// checkDrift runs one drift check and reports whether the check's failure
// has been logged (once is enough).
func (p *Process) checkDrift(ctx context.Context, dir atlasmigrate.Dir, server string, warned bool) bool {
	dev := migrate.DevDatabase{URL: p.cfg.Migrate.DevURL, ServerURL: server}
	rep, err := migrate.Drift(ctx, p.db.SQL, dir, migrate.DriftOptions{Dev: dev, RevisionSchema: p.revisionSchema()})
	if err != nil {
		p.metrics.SetMigrationDrift(-1)
		if !warned && ctx.Err() == nil {
			p.log.Warn("the schema drift check cannot run; accounts_migration_drift_objects is not reported", "error", err.Error())
			return true
		}
		return warned
	}
	p.metrics.SetMigrationDrift(rep.Objects())
	if rep.Objects() > 0 {
		p.log.Warn("the database schema differs from what its applied migrations make (accounts migrate drift lists it)",
			"version", rep.Version, "extra", rep.Extra, "missing", rep.Missing, "changed", rep.Changed)
	}
	return warned
}
