package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
)

// downInput is what planDown works from.
type downInput struct {
	conn     *sql.Conn // the live database, under the migration lock
	dev      *devDB
	dir      atlasmigrate.Dir
	target   string              // the version after the revert; "" for none
	reverted []atlasmigrate.File // the files whose changes are undone, oldest first
	force    bool
}

// downPlan is a computed revert.
type downPlan struct {
	stmts  []string
	losses []string // data --force allows to lose
	online bool     // run outside a transaction: the reverted files used CONCURRENTLY
}

func (p *downPlan) modeNote() string {
	if p.online {
		return " (txmode none: the reverted files built or dropped indexes CONCURRENTLY)"
	}
	return ""
}

// planDown computes the revert from the directory alone: the schema of the
// target version (want) and of the current one (cur) come from replays on
// the dev database, and the plan takes cur to want. The live database is
// then checked to hold cur for every object the plan touches.
func planDown(ctx context.Context, in downInput) (*downPlan, error) {
	want, err := replayTarget(ctx, in.dev, in.dir, in.target)
	if err != nil {
		return nil, err
	}
	ex, err := atlasmigrate.NewExecutor(in.dev.drv, in.dir, &atlasmigrate.NopRevisionReadWriter{})
	if err != nil {
		return nil, err
	}
	if err := ex.ExecuteFiles(ctx, in.reverted); err != nil {
		return nil, fmt.Errorf("replay the reverted files on the dev database: %w", err)
	}
	cur, err := in.dev.drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("inspect the replayed dev database: %w", err)
	}
	plan := &downPlan{online: usesConcurrent(in.dev.drv, in.reverted)}
	// Both sides are inspected, so normalized: a changed CHECK expression
	// is a change.
	diffOpts := []schema.DiffOption{schema.DiffNormalized()}
	if plan.online {
		diffOpts = append(diffOpts, onlineDiffPolicy())
	}
	cur.Name, want.Name = "", ""
	changes, err := in.dev.drv.SchemaDiff(cur, want, diffOpts...)
	if err != nil {
		return nil, fmt.Errorf("compare the current version with %s: %w", orNone(in.target), err)
	}
	drv, err := postgres.Open(in.conn)
	if err != nil {
		return nil, err
	}
	live, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("inspect the database: %w", err)
	}
	// Both sides compare unqualified, as cur and want do (an enum column's
	// type carries its schema's name).
	liveSchema := live.Name
	live.Name = ""
	if err := checkLive(drv, live, cur, changes); err != nil {
		return nil, err
	}
	colRenames, tableRenames, err := revertedRenames(drv, in.reverted)
	if err != nil {
		return nil, err
	}
	if changes, err = applyRenames(in.dev.drv, changes, colRenames, tableRenames, false); err != nil {
		return nil, err
	}
	renames, err := revertedEnumRenames(drv, in.reverted)
	if err != nil {
		return nil, err
	}
	kept, enums, err := planEnumChanges(changes, applicableRenames(changes, renames))
	if err != nil {
		return nil, err
	}
	if len(kept) > 0 || len(enums) > 0 {
		p, err := planWithEnums(ctx, drv, "down", kept, enums, want.Tables)
		if err != nil {
			return nil, err
		}
		for _, c := range p.Changes {
			plan.stmts = append(plan.stmts, c.Cmd)
		}
	}
	// Outside a transaction only when a statement needs it.
	plan.online = plan.online && slices.ContainsFunc(plan.stmts, concurrentStmt)
	losses, blocking, err := dataLoss(ctx, in.conn, liveSchema, kept, enums)
	switch {
	case err != nil:
		return nil, err
	case len(blocking) > 0:
		return nil, &DataLossError{Losses: blocking, Forced: true, SQL: plan.stmts}
	case len(losses) > 0 && !in.force:
		return nil, &DataLossError{Losses: losses, SQL: plan.stmts}
	}
	plan.losses = losses
	return plan, nil
}

// replayTarget replays dir up to version target on the dev database and
// returns its schema; an empty schema for target "".
func replayTarget(ctx context.Context, dev *devDB, dir atlasmigrate.Dir, target string) (*schema.Schema, error) {
	if target != "" {
		return replay(ctx, dev, dir, target)
	}
	s, err := dev.drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("inspect the dev database: %w", err)
	}
	return s, nil
}

// usesConcurrent reports whether any of files builds or drops an index
// CONCURRENTLY: its revert then uses the same online form.
func usesConcurrent(drv atlasmigrate.Driver, files []atlasmigrate.File) bool {
	for _, f := range files {
		stmts, err := atlasmigrate.FileStmtDecls(drv, f)
		if err != nil {
			continue
		}
		for _, st := range stmts {
			if concurrentStmt(stripLeadingComments(st.Text)) {
				return true
			}
		}
	}
	return false
}

// checkLive refuses, with a *DriftError, a plan whose changes touch an
// object that the live database holds in another form than the replayed
// current version (cur): a table the plan drops must be exactly as the
// files made it; for a table it modifies, each column, index, foreign key,
// check or attribute it changes must be, and an index or foreign key that
// only the live table has must not depend on a column the plan drops.
func checkLive(drv atlasmigrate.Driver, live, cur *schema.Schema, changes []schema.Change) error {
	var bad []string
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.AddTable:
			if _, ok := live.Table(c.T.Name); ok {
				bad = append(bad, "table "+c.T.Name+": exists in the database, but the reverted files dropped it")
			}
		case *schema.DropTable, *schema.ModifyTable:
			name := tableOf(c)
			lt, ok1 := live.Table(name)
			ct, ok2 := cur.Table(name)
			if !ok1 || !ok2 {
				bad = append(bad, "table "+name+": missing from the database")
				continue
			}
			diffs, err := drv.TableDiff(ct, lt, schema.DiffNormalized())
			if err != nil {
				return fmt.Errorf("compare table %s with the migration files: %w", name, err)
			}
			bad = append(bad, tableDrift(name, c, diffs)...)
		case *schema.AddObject, *schema.DropObject, *schema.ModifyObject:
			bad = append(bad, enumDrift(live, cur, c)...)
		}
	}
	if len(bad) > 0 {
		return &DriftError{Objects: bad}
	}
	return nil
}

func tableOf(c schema.Change) string {
	switch c := c.(type) {
	case *schema.DropTable:
		return c.T.Name
	case *schema.ModifyTable:
		return c.T.Name
	}
	return ""
}

// tableDrift lists the differences (diffs: from the files' table to the
// live one) that matter to the plan's change c of that table.
func tableDrift(name string, c schema.Change, diffs []schema.Change) []string {
	var bad []string
	if _, ok := c.(*schema.DropTable); ok {
		for _, d := range diffs {
			bad = append(bad, "table "+name+" (which the revert drops): the database has "+liveSide(d))
		}
		return bad
	}
	touched := make(map[string]bool)
	var dropped []string
	for _, tc := range c.(*schema.ModifyTable).Changes {
		touched[elementKey(tc)] = true
		if dc, ok := tc.(*schema.DropColumn); ok {
			dropped = append(dropped, dc.C.Name)
		}
	}
	for _, d := range diffs {
		if touched[elementKey(d)] || dependsOn(d, dropped) {
			bad = append(bad, "table "+name+": the database has "+liveSide(d))
		}
	}
	return bad
}

// elementKey names the table element a change is about.
func elementKey(c schema.Change) string {
	switch c := c.(type) {
	case *schema.AddColumn:
		return "column " + c.C.Name
	case *schema.DropColumn:
		return "column " + c.C.Name
	case *schema.ModifyColumn:
		return "column " + c.From.Name
	case *schema.AddIndex:
		return "index " + c.I.Name
	case *schema.DropIndex:
		return "index " + c.I.Name
	case *schema.ModifyIndex:
		return "index " + c.From.Name
	case *schema.AddForeignKey:
		return "foreign key " + c.F.Symbol
	case *schema.DropForeignKey:
		return "foreign key " + c.F.Symbol
	case *schema.ModifyForeignKey:
		return "foreign key " + c.From.Symbol
	case *schema.AddCheck:
		return "check " + c.C.Name
	case *schema.DropCheck:
		return "check " + c.C.Name
	case *schema.ModifyCheck:
		return "check " + c.From.Name
	case *schema.AddPrimaryKey, *schema.DropPrimaryKey, *schema.ModifyPrimaryKey:
		return "primary key"
	case *schema.AddAttr:
		return fmt.Sprintf("attribute %T", c.A)
	case *schema.DropAttr:
		return fmt.Sprintf("attribute %T", c.A)
	case *schema.ModifyAttr:
		return fmt.Sprintf("attribute %T", c.From)
	}
	return fmt.Sprintf("%T", c)
}

// dependsOn reports whether d adds (in the live table) an index or foreign
// key over one of the columns: dropping the column would drop it too.
func dependsOn(d schema.Change, cols []string) bool {
	var used []string
	switch d := d.(type) {
	case *schema.AddIndex:
		for _, p := range d.I.Parts {
			if p.C != nil {
				used = append(used, p.C.Name)
			}
		}
	case *schema.AddForeignKey:
		for _, c := range d.F.Columns {
			used = append(used, c.Name)
		}
	case *schema.AddCheck:
		for _, c := range cols {
			if strings.Contains(d.C.Expr, c) {
				return true
			}
		}
	}
	return slices.ContainsFunc(used, func(u string) bool { return slices.Contains(cols, u) })
}

// liveSide says in words what the live table has where the files' table
// differs (d goes from the files to the live database).
func liveSide(d schema.Change) string {
	switch d := d.(type) {
	case *schema.AddIndex:
		return "index " + d.I.Name + ", which the migration files did not make"
	case *schema.DropIndex:
		return "no index " + d.I.Name + ", which the migration files made"
	case *schema.ModifyIndex:
		return "index " + d.From.Name + " with another definition than the migration files made"
	case *schema.AddColumn:
		return "column " + d.C.Name + ", which the migration files did not make"
	case *schema.DropColumn:
		return "no column " + d.C.Name + ", which the migration files made"
	case *schema.AddForeignKey:
		return "foreign key " + d.F.Symbol + ", which the migration files did not make"
	case *schema.AddCheck:
		return "check " + d.C.Name + ", which the migration files did not make"
	}
	return "a difference: " + describeTableChange(d)
}

// enumDrift compares the enum type an object change is about in the live
// database and in the files' current version.
func enumDrift(live, cur *schema.Schema, c schema.Change) []string {
	var name string
	switch c := c.(type) {
	case *schema.AddObject:
		if e, ok := c.O.(*schema.EnumType); ok {
			if findEnum(live, e.T) != nil {
				return []string{"enum type " + e.T + ": exists in the database, but the reverted files dropped it"}
			}
		}
		return nil
	case *schema.DropObject:
		if e, ok := c.O.(*schema.EnumType); ok {
			name = e.T
		}
	case *schema.ModifyObject:
		if e, ok := c.From.(*schema.EnumType); ok {
			name = e.T
		}
	}
	if name == "" {
		return nil
	}
	l, w := findEnum(live, name), findEnum(cur, name)
	switch {
	case l == nil:
		return []string{"enum type " + name + ": missing from the database"}
	case w != nil && !slices.Equal(l.Values, w.Values):
		return []string{fmt.Sprintf("enum type %s: the database has values (%s), the migration files made (%s)",
			name, strings.Join(l.Values, ", "), strings.Join(w.Values, ", "))}
	}
	return nil
}

func findEnum(s *schema.Schema, name string) *schema.EnumType {
	o, ok := s.Object(func(o schema.Object) bool {
		e, ok := o.(*schema.EnumType)
		return ok && e.T == name
	})
	if !ok {
		return nil
	}
	return o.(*schema.EnumType)
}
