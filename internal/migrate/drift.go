package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
)

// DriftOptions tunes Drift.
type DriftOptions struct {
	// Dev says where the dev database comes from.
	Dev DevDatabase
	// RevisionSchema holds the revision table; RevisionSchema when empty.
	RevisionSchema string
}

// DriftReport is how the live schema differs from the schema the applied
// migration files make.
type DriftReport struct {
	Version string   // the applied version the files were replayed to
	Extra   []string // objects only the live database has
	Missing []string // objects the files make that the live database lacks
	Changed []string // objects both have, in another form
}

// Objects counts the drifted objects.
func (r *DriftReport) Objects() int { return len(r.Extra) + len(r.Missing) + len(r.Changed) }

// Drift compares the live schema of db with the schema the applied files
// of dir make, replayed on a dev database up to the database's current
// version (`migrate drift`, and a section of `migrate status`). It changes
// nothing.
func Drift(ctx context.Context, db *sql.DB, dir atlasmigrate.Dir, opts DriftOptions) (rep *DriftReport, err error) {
	if err := Validate(dir); err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	defer func() { _ = conn.Close() }() // read only: it just goes back to the pool
	revs, err := NewRevisionTable(conn, opts.RevisionSchema).ReadRevisions(ctx)
	if err != nil {
		return nil, err
	}
	rep = &DriftReport{Version: currentVersion(revs)}
	dev, err := openDev(ctx, opts.Dev, db)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, dev.close()) }()
	want, err := replayTarget(ctx, dev, dir, rep.Version)
	if err != nil {
		return nil, err
	}
	drv, err := postgres.Open(conn)
	if err != nil {
		return nil, err
	}
	live, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("inspect the database: %w", err)
	}
	if live.Name == revisionSchemaName(opts.RevisionSchema) {
		live.Tables = dropTable(live.Tables, RevisionTableName)
	}
	live.Name, want.Name = "", ""
	changes, err := drv.SchemaDiff(want, live, schema.DiffNormalized())
	if err != nil {
		return nil, fmt.Errorf("compare the database with the migration files: %w", err)
	}
	for _, c := range changes {
		classifyDrift(rep, c)
	}
	return rep, nil
}

func revisionSchemaName(s string) string {
	if s == "" {
		return RevisionSchema
	}
	return s
}

func dropTable(tables []*schema.Table, name string) []*schema.Table {
	var out []*schema.Table
	for _, t := range tables {
		if t.Name != name {
			out = append(out, t)
		}
	}
	return out
}

// classifyDrift files one change (from the files' schema to the live one)
// under extra, missing or changed.
func classifyDrift(rep *DriftReport, c schema.Change) {
	switch c := c.(type) {
	case *schema.AddTable:
		rep.Extra = append(rep.Extra, "table "+c.T.Name)
	case *schema.DropTable:
		rep.Missing = append(rep.Missing, "table "+c.T.Name)
	case *schema.AddObject:
		rep.Extra = append(rep.Extra, describeObject(c.O))
	case *schema.DropObject:
		rep.Missing = append(rep.Missing, describeObject(c.O))
	case *schema.ModifyObject:
		rep.Changed = append(rep.Changed, describeChange(c)...)
	case *schema.ModifyTable:
		for _, tc := range c.Changes {
			what := "table " + c.T.Name + ": " + elementKey(tc)
			switch tc.(type) {
			case *schema.AddColumn, *schema.AddIndex, *schema.AddForeignKey, *schema.AddCheck:
				rep.Extra = append(rep.Extra, what)
			case *schema.DropColumn, *schema.DropIndex, *schema.DropForeignKey, *schema.DropCheck:
				rep.Missing = append(rep.Missing, what)
			default:
				rep.Changed = append(rep.Changed, "table "+c.T.Name+": "+describeTableChange(tc))
			}
		}
	default:
		rep.Changed = append(rep.Changed, describeChange(c)...)
	}
}
