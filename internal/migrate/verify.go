package migrate

import (
	"context"
	"fmt"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// UnplannableError is returned by Diff and Check when the desired schema and
// the migration directory differ in ways the planner wrote no statement
// for: diff writes nothing rather than a file that does not reach the
// schema, and never reports "no changes" for it.
type UnplannableError struct {
	Changes []string // one line per change left over
}

func (e *UnplannableError) Error() string {
	return "the Ent schema differs from migrations/ in ways this engine cannot write a migration for:\n  - " +
		strings.Join(e.Changes, "\n  - ") +
		"\nnothing was written; write these changes by hand (`accounts migrate new NAME`, then `accounts migrate hash`)"
}

// verifyPlan runs the planned file on the dev database, which holds the
// replayed directory, exactly as apply will (in one transaction, or
// statement by statement when none says it is txmode none), and compares
// the result with want. A statement that fails there, or a difference left
// afterwards, means the file would not bring a database to the desired
// schema.
func verifyPlan(ctx context.Context, dev *devDB, want *schema.Schema, plan *atlasmigrate.Plan, none bool) error {
	if err := verifyFile(ctx, dev, plan, none); err != nil {
		mode := "in one transaction"
		if none {
			mode = "txmode none"
		}
		return fmt.Errorf("the planned migration (%s) fails on migrations/ replayed on the dev database, %w\n"+
			"nothing was written; write this change by hand (`accounts migrate new NAME`, then `accounts migrate hash`)", mode, err)
	}
	after, err := dev.drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return fmt.Errorf("inspect the dev database after the planned migration: %w", err)
	}
	after.Name = ""
	w := *want
	w.Name = ""
	left, err := dev.drv.SchemaDiff(after, &w)
	if err != nil {
		return fmt.Errorf("compare the planned migration's result with the desired schema: %w", err)
	}
	if len(left) == 0 {
		return nil
	}
	e := &UnplannableError{}
	for _, c := range left {
		e.Changes = append(e.Changes, describeChange(c)...)
	}
	return e
}

// verifyFile runs the planned file in its transaction mode.
func verifyFile(ctx context.Context, dev *devDB, plan *atlasmigrate.Plan, none bool) error {
	fail := func(i int, cmd string, err error) error {
		return fmt.Errorf("at statement %d of %d:\n  %s\n%v", i+1, len(plan.Changes), cmd, err)
	}
	if none {
		for i, c := range plan.Changes {
			if _, err := dev.db.ExecContext(ctx, c.Cmd); err != nil {
				return fail(i, c.Cmd, err)
			}
		}
		return nil
	}
	tx, err := dev.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for i, c := range plan.Changes {
		if _, err := tx.ExecContext(ctx, c.Cmd); err != nil {
			_ = tx.Rollback()
			return fail(i, c.Cmd, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("at commit: %v", err)
	}
	return nil
}

// describeChange says in words what a schema change is.
func describeChange(c schema.Change) []string {
	switch c := c.(type) {
	case *schema.AddTable:
		return []string{"add table " + c.T.Name}
	case *schema.DropTable:
		return []string{"drop table " + c.T.Name}
	case *schema.ModifyTable:
		var out []string
		for _, tc := range c.Changes {
			out = append(out, "table "+c.T.Name+": "+describeTableChange(tc))
		}
		return out
	case *schema.AddObject:
		return []string{"add " + describeObject(c.O)}
	case *schema.DropObject:
		return []string{"drop " + describeObject(c.O)}
	case *schema.ModifyObject:
		from, ok1 := c.From.(*schema.EnumType)
		to, ok2 := c.To.(*schema.EnumType)
		if ok1 && ok2 {
			return []string{fmt.Sprintf("enum type %s: values (%s) become (%s)", from.T, strings.Join(from.Values, ", "), strings.Join(to.Values, ", "))}
		}
		return []string{"modify " + describeObject(c.To)}
	}
	return []string{fmt.Sprintf("a change of kind %T", c)}
}

func describeObject(o schema.Object) string {
	if e, ok := o.(*schema.EnumType); ok {
		return "enum type " + e.T
	}
	return fmt.Sprintf("object %T", o)
}

func describeTableChange(c schema.Change) string {
	switch c := c.(type) {
	case *schema.AddColumn:
		return "add column " + c.C.Name
	case *schema.DropColumn:
		return "drop column " + c.C.Name
	case *schema.ModifyColumn:
		var what []string
		for _, k := range []struct {
			k schema.ChangeKind
			s string
		}{{schema.ChangeType, "type"}, {schema.ChangeNull, "nullability"}, {schema.ChangeDefault, "default"}, {schema.ChangeComment, "comment"}, {schema.ChangeAttr, "attributes"}, {schema.ChangeGenerated, "generation"}} {
			if c.Change.Is(k.k) {
				what = append(what, k.s)
			}
		}
		return "change the " + strings.Join(what, ", ") + " of column " + c.To.Name
	case *schema.AddIndex:
		return "add index " + c.I.Name
	case *schema.DropIndex:
		return "drop index " + c.I.Name
	case *schema.ModifyIndex:
		return "change index " + c.To.Name
	case *schema.AddForeignKey:
		return "add foreign key " + c.F.Symbol
	case *schema.DropForeignKey:
		return "drop foreign key " + c.F.Symbol
	case *schema.AddCheck:
		return "add check " + c.C.Name
	case *schema.DropCheck:
		return "drop check " + c.C.Name
	}
	return fmt.Sprintf("a change of kind %T", c)
}
