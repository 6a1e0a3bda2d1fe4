package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// DiffOptions tunes Diff and Check.
type DiffOptions struct {
	// Name is the migration's name (`migrate diff NAME`); required by Diff.
	Name string
	// Desired is the state to reach; EntState() when nil.
	Desired *DesiredState
	// Dev says where the dev database comes from.
	Dev DevDatabase
	// EnumRenames are enum values renamed in the Ent schema: written as
	// ALTER TYPE … RENAME VALUE instead of a removal and an addition.
	EnumRenames []EnumRename
	// ColumnRenames and TableRenames are columns and tables renamed in the
	// Ent schema: written as RENAME, keeping the data, instead of a drop
	// and an add.
	ColumnRenames []ColumnRename
	TableRenames  []TableRename
}

// DiffResult is a computed migration.
type DiffResult struct {
	// File is the name of the written file; "" when nothing was written.
	File string
	// SQL is the content of the migration file; "" when there are no
	// changes.
	SQL string
	// Statements is the number of statements in SQL.
	Statements int
	// Notes are hints for the person reviewing the file (a removed and an
	// added enum value that may be a rename).
	Notes []string
}

// NoChanges reports whether migrations/ already reaches the desired state.
func (r *DiffResult) NoChanges() bool { return r.SQL == "" }

// Diff replays dir on a dev database, compares the result with the desired
// state and writes the difference as a new migration file
// <UTC timestamp>_<name>.sql, updating atlas.sum (`migrate diff`). With no
// difference it writes nothing and returns a result whose NoChanges is true.
// The planned file is first run on the dev database: when it fails there or
// leaves a difference (a change the engine cannot write), Diff writes
// nothing and returns the error (an *UnplannableError for the latter).
func Diff(ctx context.Context, dir atlasmigrate.Dir, opts DiffOptions) (*DiffResult, error) {
	if err := checkName(opts.Name); err != nil {
		return nil, err
	}
	return diff(ctx, dir, opts, true)
}

// Check is Diff without writing: a result with changes means the desired
// state has changes that dir lacks (`migrate check`).
func Check(ctx context.Context, dir atlasmigrate.Dir, opts DiffOptions) (*DiffResult, error) {
	if opts.Name == "" {
		opts.Name = "pending_changes"
	}
	return diff(ctx, dir, opts, false)
}

func diff(ctx context.Context, dir atlasmigrate.Dir, opts DiffOptions, write bool) (res *DiffResult, err error) {
	if err := Validate(dir); err != nil {
		return nil, err
	}
	desired := EntState()
	if opts.Desired != nil {
		desired = *opts.Desired
	} else if err := checkTreeSchema(ctx, dir); err != nil {
		return nil, err
	}
	dev, err := openDev(ctx, opts.Dev, nil)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, dev.close()) }()
	want, err := desired.atlasSchema(ctx, entsql.OpenDB(dialect.Postgres, dev.db))
	if err != nil {
		return nil, err
	}
	// Normalize on the still-empty dev database: the desired schema is
	// created there and read back, so it compares in PostgreSQL's own terms.
	norm, ok := dev.drv.(schema.Normalizer)
	if !ok {
		return nil, fmt.Errorf("the dev database driver (%T) cannot normalize schemas", dev.drv)
	}
	want, err = norm.NormalizeSchema(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("normalize the desired schema on the dev database: %w", err)
	}
	have, err := replay(ctx, dev, dir, "")
	if err != nil {
		return nil, err
	}
	have.Name, want.Name = "", ""
	changes, err := dev.drv.SchemaDiff(have, want, onlineDiffPolicy())
	if err != nil {
		return nil, fmt.Errorf("compare migrations/ with the desired schema: %w", err)
	}
	if changes, err = applyRenames(dev.drv, changes, opts.ColumnRenames, opts.TableRenames, true); err != nil {
		return nil, err
	}
	hints := renameHints(changes)
	kept, enums, err := planEnumChanges(changes, opts.EnumRenames)
	if err != nil {
		return nil, err
	}
	res = &DiffResult{}
	if len(changes) == 0 {
		return res, nil
	}
	plan, err := planWithEnums(ctx, dev.drv, opts.Name, kept, enums, want.Tables)
	if err != nil {
		return nil, err
	}
	if len(plan.Changes) == 0 {
		if err := verifyPlan(ctx, dev, want, plan, false); err != nil {
			return nil, err
		}
		return res, nil // the differences were no-ops: the file would be empty
	}
	if plan.Version, err = nextVersion(dir, time.Now()); err != nil {
		return nil, err
	}
	f, none, err := formatPlan(plan)
	if err != nil {
		return nil, err
	}
	if err := verifyPlan(ctx, dev, want, plan, none); err != nil {
		for _, h := range hints {
			err = fmt.Errorf("%w\nNote: %s", err, h)
		}
		return nil, err
	}
	res.Notes = append(enumNotes(enums), hints...)
	res.SQL, res.Statements = string(f.Bytes()), len(plan.Changes)
	if !write {
		return res, nil
	}
	if err := atlasmigrate.NewPlanner(dev.drv, dir, atlasmigrate.PlanFormat(diffFormatter)).WritePlan(plan); err != nil {
		return nil, fmt.Errorf("write the migration file: %w", err)
	}
	res.File = f.Name()
	return res, nil
}

// planChanges plans changes as unqualified statements, as the Atlas CLI does
// for a schema-scoped dev database, so files apply to whatever schema the
// target connection's search_path selects.
func planChanges(ctx context.Context, drv atlasmigrate.PlanApplier, name string, changes []schema.Change) (*atlasmigrate.Plan, error) {
	changes, renames := takeConstraintRenames(changes)
	plan, err := drv.PlanChanges(ctx, name, changes, func(o *atlasmigrate.PlanOptions) {
		q := ""
		o.SchemaQualifier = &q
	})
	if err != nil {
		return nil, fmt.Errorf("plan the migration: %w", err)
	}
	plan.Changes = append(plan.Changes, renames...)
	return plan, nil
}

// takeConstraintRenames removes the RenameConstraint changes, which the
// open-source PostgreSQL planner does not plan, from changes and returns
// them as statements, to run after the rest (after the RENAME of their
// table).
func takeConstraintRenames(changes []schema.Change) ([]schema.Change, []*atlasmigrate.Change) {
	var renames []*atlasmigrate.Change
	for _, c := range changes {
		m, ok := c.(*schema.ModifyTable)
		if !ok {
			continue
		}
		m.Changes = slices.DeleteFunc(m.Changes, func(tc schema.Change) bool {
			r, ok := tc.(*schema.RenameConstraint)
			if !ok {
				return false
			}
			from, to := constraintName(r.From), constraintName(r.To)
			renames = append(renames, &atlasmigrate.Change{
				Cmd:     fmt.Sprintf("ALTER TABLE %s RENAME CONSTRAINT %s TO %s", quoteIdent(m.T.Name), quoteIdent(from), quoteIdent(to)),
				Comment: fmt.Sprintf("rename a constraint from %q to %q", from, to),
				Source:  r,
			})
			return true
		})
	}
	return dropEmptyModifies(changes), renames
}

// constraintName is the name of a foreign key (the only constraint
// renameForeignKeys renames).
func constraintName(o schema.Object) string {
	if fk, ok := o.(*schema.ForeignKey); ok {
		return fk.Symbol
	}
	return fmt.Sprintf("%v", o)
}

// replay applies dir (up to and including version to, or all files when to
// is "") on the dev database and returns its current schema.
func replay(ctx context.Context, dev *devDB, dir atlasmigrate.Dir, to string) (*schema.Schema, error) {
	ex, err := atlasmigrate.NewExecutor(dev.drv, dir, &atlasmigrate.NopRevisionReadWriter{})
	if err != nil {
		return nil, err
	}
	if to != "" {
		err = ex.ExecuteTo(ctx, to)
	} else {
		err = ex.ExecuteN(ctx, 0)
	}
	if err != nil && !errors.Is(err, atlasmigrate.ErrNoPendingFiles) {
		var se *atlasmigrate.StmtExecError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("replaying the migration directory on the dev database failed in version %s at statement:\n  %s\n%v\nfix that file (and `accounts migrate hash`)",
				se.Version, strings.TrimSpace(se.Stmt.Text), se.Err)
		}
		return nil, fmt.Errorf("replay the migration directory on the dev database: %w", err)
	}
	s, err := dev.drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("inspect the replayed dev database: %w", err)
	}
	return s, nil
}
