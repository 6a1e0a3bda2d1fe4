package service

import (
	"context"
	"fmt"
	"time"

	"accounts/internal/database"
	"accounts/internal/migrate"
)

// revisionSchema is where the Atlas CLI keeps the revision table for the
// configured database: in the schema a search_path binds, else
// atlas_schema_revisions.
func (p *Process) revisionSchema() string {
	return migrate.RevisionSchemaOf(p.cfg.Database.ConnString())
}

// migrateOnStart applies the build's pending files before the process
// takes traffic (serve --migrate, dev). A database that has every file of
// the build and newer ones is left alone: it is the next release's,
// mid-deploy, and a newer file that failed part-way is that release's to
// finish (Atlas's executor refuses to run beside a partial revision whose
// file it lacks, which would keep this release from starting at all).
func (p *Process) migrateOnStart(ctx context.Context, o Options) error {
	build, err := migrate.NewBuildFiles(o.Migrations)
	if err != nil {
		return fmt.Errorf("migration directory: %w", err)
	}
	st, err := migrate.ReadBuildState(ctx, p.db.SQL, build, p.revisionSchema())
	if err == nil && len(st.Lacking) == 0 && len(st.Newer) > 0 {
		p.log.Info("no migrations to apply: the database has every file of this build", "dir", o.MigrationsOrigin)
		return nil
	}
	p.log.Info("applying pending migrations", "dir", o.MigrationsOrigin)
	start := time.Now()
	db := p.db.SQL
	if o.MigrateURL != "" {
		d := p.cfg.Database
		d.URL = o.MigrateURL
		owner, err := database.Open(ctx, d, p.log)
		if err != nil {
			return fmt.Errorf("migrate on start: %w", err)
		}
		defer owner.Close()
		db = owner.SQL
	}
	rep, err := migrate.Apply(ctx, db, o.Migrations, migrate.ApplyOptions{
		Operator:       o.Operator,
		RevisionSchema: p.revisionSchema(),
	}.LockOptions(p.cfg.Migrate.StatementLockTimeout, p.cfg.Migrate.LockRetries))
	if err != nil {
		return fmt.Errorf("migrate on start: %w", err)
	}
	p.log.Info("migrations applied", "files", len(rep.Files), "took", time.Since(start).Round(time.Millisecond))
	return nil
}
