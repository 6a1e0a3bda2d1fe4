package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"accounts/internal/database"
	"accounts/internal/metrics"
	"accounts/internal/migrate"
)

// readiness returns the /readyz check of a build whose migration files are
// dir's, and logs at start where the database stands against them.
//
// Ready means every file of the build is applied, whatever else the
// database has: during a rolling deploy the new release applies its files
// while the old one still serves, and the old one must stay in the load
// balancer until the new one has capacity. A database ahead of the build
// is logged at INFO for that reason; one that lacks a file of the build is
// not ready, and the reason names the file.
func (a *app) readiness(ctx context.Context, db *database.DB, dir atlasmigrate.Dir, m *metrics.Metrics) (func(context.Context) error, error) {
	build, err := migrate.NewBuildFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("migration directory: %w", err)
	}
	// The revision table is where the Atlas CLI keeps it for this URL: in
	// the schema a search_path binds, else atlas_schema_revisions.
	revisionSchema := a.revisionSchema()
	timeout := a.cfg.HTTP.ReadyTimeout
	read := func(ctx context.Context) (*migrate.BuildState, error) {
		st, err := migrate.ReadBuildState(ctx, db.SQL, build, revisionSchema)
		if err == nil {
			m.SetMigration(st.Current, build.Head(), len(st.Newer))
		}
		return st, err
	}
	// ready answers /readyz within http.ready_timeout (the handler bounds
	// ctx). Its errors are shown to clients, so they say what is wrong
	// without the driver's text (which names hosts and users).
	ready := func(ctx context.Context) error {
		if err := db.SQL.PingContext(ctx); err != nil {
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

	// The state is known from the start, not only after the first probe.
	sctx, cancel := context.WithTimeout(ctx, timeout)
	st, err := read(sctx)
	cancel()
	if err != nil {
		a.log.Warn("the migration state of the database cannot be read; /readyz answers 503 until it can", "error", err.Error())
		return ready, nil
	}
	if err := st.Ready(); err != nil {
		a.log.Warn(advise(err.Error()+"; /readyz answers 503 until they are applied (`accounts migrate apply`, or `accounts serve --migrate`)", a.cli),
			"version", st.Current, "build", build.Head())
	}
	if ahead := st.Ahead(); ahead != "" {
		a.log.Info(ahead, "version", st.Current, "build", build.Head())
	}
	go a.watchDrift(ctx, db, dir, m)
	return ready, nil
}

// The first drift check waits a minute, so a process that starts and stops
// (a test, a crash loop) creates no dev database; then it runs every 15.
const (
	driftFirstCheck = time.Minute
	driftInterval   = 15 * time.Minute
)

// watchDrift compares the live schema with what the applied migration
// files make, now and then, for accounts_migration_drift_objects and a WARN
// log line naming the objects. /readyz does not depend on it: a DBA's extra
// index is no reason to take a replica out of the load balancer.
func (a *app) watchDrift(ctx context.Context, db *database.DB, dir atlasmigrate.Dir, m *metrics.Metrics) {
	t := time.NewTimer(driftFirstCheck)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := migrate.Drift(ctx, db.SQL, dir, migrate.DriftOptions{Dev: a.migrateDev(), RevisionSchema: a.revisionSchema()})
		switch {
		case err != nil:
			m.SetMigrationDrift(-1)
			if !warned && ctx.Err() == nil {
				a.log.Warn("the schema drift check cannot run; accounts_migration_drift_objects is not reported", "error", err.Error())
				warned = true
			}
		default:
			m.SetMigrationDrift(rep.Objects())
			if rep.Objects() > 0 {
				a.log.Warn("the database schema differs from what its applied migrations make (accounts migrate drift lists it)",
					"version", rep.Version, "extra", rep.Extra, "missing", rep.Missing, "changed", rep.Changed)
			}
		}
		t.Reset(driftInterval)
	}
}
