package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"accounts/internal/migrate"
)

// readiness returns the /readyz check of a build whose migration files are
// dir's, logs where the database stands against them, and adds the drift
// check to the jobs Run starts.
//
// Ready means every file of the build is applied, whatever else the
// database has: during a rolling deploy the new release applies its files
// while the old one still serves, and the old one must stay in the load
// balancer until the new one has capacity. A database ahead of the build
// is logged at INFO for that reason; one that lacks a file of the build is
// not ready, and the reason names the file.
func (p *Process) readiness(ctx context.Context, dir atlasmigrate.Dir, advise func(string) string, drift DriftSchedule) (func(context.Context) error, error) {
	build, err := migrate.NewBuildFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("migration directory: %w", err)
	}
	p.jobs = append(p.jobs, p.driftJob(dir, drift))
	read := func(ctx context.Context) (*migrate.BuildState, error) {
		st, err := migrate.ReadBuildState(ctx, p.db.SQL, build, p.revisionSchema())
		if err == nil {
			p.metrics.SetMigration(st.Current, build.Head(), len(st.Newer))
		}
		return st, err
	}
	// The state is known from the start, not only after the first probe.
	sctx, cancel := context.WithTimeout(ctx, p.cfg.HTTP.ReadyTimeout)
	st, err := read(sctx)
	cancel()
	if err != nil {
		p.log.Warn("the migration state of the database cannot be read; /readyz answers 503 until it can", "error", err.Error())
	} else {
		p.logBuildState(st, build.Head(), advise)
	}
	return p.readyCheck(read), nil
}

// logBuildState says at start what the database lacks of the build, or
// has beyond it, naming the commands as advise (when set) spells them.
func (p *Process) logBuildState(st *migrate.BuildState, head string, advise func(string) string) {
	if err := st.Ready(); err != nil {
		msg := err.Error() + "; /readyz answers 503 until they are applied (`accounts migrate apply`, or `accounts serve --migrate`)"
		if advise != nil {
			msg = advise(msg)
		}
		p.log.Warn(msg, "version", st.Current, "build", head)
	}
	if ahead := st.Ahead(); ahead != "" {
		p.log.Info(ahead, "version", st.Current, "build", head)
	}
}

// readyCheck answers /readyz within http.ready_timeout (the handler
// bounds ctx): the database answers and has every file of the build. Its
// errors are shown to clients, so they say what is wrong without the
// driver's text (which names hosts and users).
func (p *Process) readyCheck(read func(context.Context) (*migrate.BuildState, error)) func(context.Context) error {
	timeout := p.cfg.HTTP.ReadyTimeout
	return func(ctx context.Context) error {
		if err := p.db.SQL.PingContext(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("the database did not answer within %s", timeout)
			}
			return errors.New("the database does not answer")
		}
		st, err := read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("the migration state of the database could not be read within %s", timeout)
			}
			return errors.New("the migration state of the database cannot be read")
		}
		return st.Ready()
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
func (p *Process) driftJob(dir atlasmigrate.Dir, when DriftSchedule) job {
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
			warned = p.checkDrift(ctx, dir, warned)
			t.Reset(every)
		}
	}
}

// checkDrift runs one drift check and reports whether the check's failure
// has been logged (once is enough).
func (p *Process) checkDrift(ctx context.Context, dir atlasmigrate.Dir, warned bool) bool {
	dev := migrate.DevDatabase{URL: p.cfg.Migrate.DevURL, ServerURL: p.cfg.Database.ConnString()}
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
