package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
)

// EnumRename says that a value of a native enum type was renamed, so diff
// writes ALTER TYPE … RENAME VALUE, which keeps the rows holding it,
// instead of removing the old value and adding the new one.
type EnumRename struct {
	Type, From, To string
}

func (r EnumRename) String() string { return r.Type + "." + r.From + "=" + r.To }

// ParseEnumRename parses TYPE.FROM=TO, e.g. userrole.AUDITOR=REVIEWER (the
// --rename-enum-value flag).
func ParseEnumRename(s string) (EnumRename, error) {
	typ, rest, ok1 := strings.Cut(s, ".")
	from, to, ok2 := strings.Cut(rest, "=")
	r := EnumRename{Type: strings.TrimSpace(typ), From: from, To: to}
	if !ok1 || !ok2 || r.Type == "" || r.From == "" || r.To == "" {
		return EnumRename{}, fmt.Errorf("--rename-enum-value %q: write TYPE.OLD=NEW, e.g. userrole.AUDITOR=REVIEWER", s)
	}
	if r.From == r.To {
		return EnumRename{}, fmt.Errorf("--rename-enum-value %q: the old and the new value are the same", s)
	}
	return r, nil
}

// enumChange is how one native enum type goes from its current values
// (From) to the wanted ones (To). PostgreSQL can rename a value and add
// one anywhere without touching rows, but cannot drop or move a value: for
// those the type is recreated and every column using it converted.
type enumChange struct {
	From, To  *schema.EnumType
	Renames   []EnumRename // applied first
	Removed   []string     // values From has (after the renames) and To lacks
	Added     []string     // values To has and From lacks
	Reordered bool         // values both have are in another order
}

// recreate reports whether the type must be recreated.
func (e *enumChange) recreate() bool { return len(e.Removed) > 0 || e.Reordered }

// planEnumChanges takes the changes of enum values out of changes. Renames
// (the --rename-enum-value flags) are applied to the current values first.
// What is left to plan is either additions only, handed back to the Atlas
// planner as a ModifyObject (it writes ADD VALUE … BEFORE/AFTER), or a
// removal or reordering, which the planner cannot express (it silently
// plans nothing for a removal, and refuses a reordering); planWithEnums
// writes those. Every rename must match a value that the type loses and a
// value that it gains.
func planEnumChanges(changes []schema.Change, renames []EnumRename) ([]schema.Change, []*enumChange, error) {
	var (
		kept  []schema.Change
		enums []*enumChange
	)
	used := make([]bool, len(renames))
	for _, c := range changes {
		m, ok := c.(*schema.ModifyObject)
		if !ok {
			kept = append(kept, c)
			continue
		}
		from, ok1 := m.From.(*schema.EnumType)
		to, ok2 := m.To.(*schema.EnumType)
		if !ok1 || !ok2 {
			kept = append(kept, c)
			continue
		}
		current, applied, err := applyEnumRenames(from, to, renames, used)
		if err != nil {
			return nil, nil, err
		}
		e := &enumChange{From: from, To: to, Renames: applied}
		e.compare(current)
		enums = append(enums, e)
		if !e.recreate() && len(e.Added) > 0 {
			renamed := *from
			renamed.Values = current
			kept = append(kept, &schema.ModifyObject{From: &renamed, To: to})
		}
	}
	for i, r := range renames {
		if !used[i] {
			return nil, nil, fmt.Errorf("--rename-enum-value %s: enum type %s does not change in this diff", r, r.Type)
		}
	}
	return kept, enums, nil
}

// applyEnumRenames applies the renames of type from to its values, marking
// in used those it applies; every rename must match a value that the type
// loses (in to) and a value that it gains.
func applyEnumRenames(from, to *schema.EnumType, renames []EnumRename, used []bool) (current []string, applied []EnumRename, err error) {
	current = slices.Clone(from.Values)
	for i, r := range renames {
		if r.Type != from.T {
			continue
		}
		used[i] = true
		j := slices.Index(current, r.From)
		switch {
		case j < 0 || slices.Contains(to.Values, r.From):
			return nil, nil, fmt.Errorf("--rename-enum-value %s: enum type %s has no value %s that the Ent schema drops (current values: %s)", r, r.Type, r.From, strings.Join(current, ", "))
		case slices.Contains(current, r.To) || !slices.Contains(to.Values, r.To):
			return nil, nil, fmt.Errorf("--rename-enum-value %s: the Ent schema adds no value %s to enum type %s (wanted values: %s)", r, r.To, r.Type, strings.Join(to.Values, ", "))
		}
		current[j] = r.To
		applied = append(applied, r)
	}
	return current, applied, nil
}

// compare sets what e removes, adds and reorders going from current (the
// type's values after the renames) to e.To's.
func (e *enumChange) compare(current []string) {
	for _, v := range current {
		if !slices.Contains(e.To.Values, v) {
			e.Removed = append(e.Removed, v)
		}
	}
	for _, v := range e.To.Values {
		if !slices.Contains(current, v) {
			e.Added = append(e.Added, v)
		}
	}
	kept1 := slices.DeleteFunc(slices.Clone(current), func(v string) bool { return slices.Contains(e.Removed, v) })
	kept2 := slices.DeleteFunc(slices.Clone(e.To.Values), func(v string) bool { return slices.Contains(e.Added, v) })
	e.Reordered = !slices.Equal(kept1, kept2)
}

// enumRenameChanges are the RENAME VALUE statements of e; they come before
// every other statement of the migration.
func enumRenameChanges(e *enumChange) []*atlasmigrate.Change {
	var out []*atlasmigrate.Change
	for _, r := range e.Renames {
		out = append(out, &atlasmigrate.Change{
			Cmd:     "ALTER TYPE " + quoteIdent(e.To.T) + " RENAME VALUE " + quoteLiteral(r.From) + " TO " + quoteLiteral(r.To),
			Comment: fmt.Sprintf("rename value %q of enum type %q to %q", r.From, e.To.T, r.To),
		})
	}
	return out
}

// enumRecreateChanges are the statements that replace the type by one with
// e.To's values, converting every column of tables that uses it through
// text (rows holding a removed value make the conversion fail, and the
// migration roll back), its default dropped and restored around the
// change. They come after the rest of the migration, so tables is the
// state the migration reaches. `migrate apply` recognizes the conversion
// (see enumguard.go) and refuses to start while rows hold a removed value.
func enumRecreateChanges(e *enumChange, tables []*schema.Table) []*atlasmigrate.Change {
	name := quoteIdent(e.To.T)
	old := quoteIdent(e.To.T + "_old")
	vals := make([]string, len(e.To.Values))
	for i, v := range e.To.Values {
		vals[i] = quoteLiteral(v)
	}
	why := "reorder its values"
	if len(e.Removed) > 0 {
		why = "drop value(s) " + strings.Join(e.Removed, ", ")
	}
	out := []*atlasmigrate.Change{
		{Cmd: "ALTER TYPE " + name + " RENAME TO " + old,
			Comment: fmt.Sprintf("recreate enum type %q to %s (PostgreSQL cannot do that in place)", e.To.T, why)},
		{Cmd: "CREATE TYPE " + name + " AS ENUM (" + strings.Join(vals, ", ") + ")"},
	}
	for _, t := range tables {
		for _, c := range t.Columns {
			et, ok := c.Type.Type.(*schema.EnumType)
			if !ok || et.T != e.To.T {
				continue
			}
			alter := "ALTER TABLE " + quoteIdent(t.Name) + " ALTER COLUMN " + quoteIdent(c.Name)
			def := defaultSQL(c.Default)
			if def != "" {
				out = append(out, &atlasmigrate.Change{Cmd: alter + " DROP DEFAULT"})
			}
			out = append(out, &atlasmigrate.Change{
				Cmd:     alter + " TYPE " + name + " USING " + quoteIdent(c.Name) + "::text::" + name,
				Comment: fmt.Sprintf("convert column %q of table %q to the new type; rows holding a dropped value make this fail", c.Name, t.Name),
			})
			if def != "" {
				out = append(out, &atlasmigrate.Change{Cmd: alter + " SET DEFAULT " + def})
			}
		}
	}
	return append(out, &atlasmigrate.Change{Cmd: "DROP TYPE " + old})
}

// defaultSQL is the SQL of an inspected column default; "" when none.
func defaultSQL(x schema.Expr) string {
	switch x := x.(type) {
	case *schema.RawExpr:
		return x.X
	case *schema.Literal:
		return x.V
	}
	return ""
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// planWithEnums plans changes as a migration named name: the enum value
// renames first, then what the Atlas planner writes for kept, then the
// recreation of every enum type in enums that needs one. tables is the
// state the migration reaches (its columns are converted). Diff and Down
// both plan through it.
func planWithEnums(ctx context.Context, drv atlasmigrate.Driver, name string, kept []schema.Change, enums []*enumChange, tables []*schema.Table) (*atlasmigrate.Plan, error) {
	castToEnums(kept)
	kept = leaveDefaultsToRecreation(kept, enums)
	plan, err := planChanges(ctx, drv, name, kept)
	if err != nil {
		return nil, err
	}
	var renames, recreates []*atlasmigrate.Change
	for _, e := range enums {
		renames = append(renames, enumRenameChanges(e)...)
		if e.recreate() {
			recreates = append(recreates, enumRecreateChanges(e, tables)...)
		}
	}
	plan.Changes = append(append(renames, plan.Changes...), recreates...)
	return plan, nil
}

// enumNotes are hints about enum changes that diff planned: a value removed
// and another added on one type may be a rename.
func enumNotes(enums []*enumChange) []string {
	var notes []string
	for _, e := range enums {
		if len(e.Removed) == 0 || len(e.Added) == 0 {
			continue
		}
		notes = append(notes, fmt.Sprintf("enum type %s loses %s and gains %s; this migration recreates the type, and rows holding %s make it fail. "+
			"If a value was renamed, `accounts migrate diff NAME --rename-enum-value %s.%s=%s` writes ALTER TYPE … RENAME VALUE instead, which keeps the rows "+
			"(to replace a file already written: delete it, run `accounts migrate hash`, then diff again)",
			e.To.T, strings.Join(e.Removed, ", "), strings.Join(e.Added, ", "), strings.Join(e.Removed, ", "), e.To.T, e.Removed[0], e.Added[0]))
	}
	return notes
}

// castToEnums gives every column that moves to an enum type from another
// type a USING col::text::type clause: PostgreSQL has no automatic cast to
// an enum, so the bare ALTER COLUMN … TYPE the planner writes fails.
func castToEnums(changes []schema.Change) {
	for _, c := range changes {
		m, ok := c.(*schema.ModifyTable)
		if !ok {
			continue
		}
		for _, tc := range m.Changes {
			mc, ok := tc.(*schema.ModifyColumn)
			if !ok || !mc.Change.Is(schema.ChangeType) {
				continue
			}
			to, ok := mc.To.Type.Type.(*schema.EnumType)
			if !ok {
				continue
			}
			if from, ok := mc.From.Type.Type.(*schema.EnumType); ok && from.T == to.T {
				continue
			}
			if slices.ContainsFunc(mc.Extra, func(c schema.Clause) bool { _, ok := c.(*postgres.ConvertUsing); return ok }) {
				continue
			}
			mc.Extra = append(mc.Extra, &postgres.ConvertUsing{X: quoteIdent(mc.To.Name) + "::text::" + quoteIdent(to.T)})
		}
	}
}

// revertedEnumRenames returns the renames that undo the RENAME VALUE
// statements of files (oldest first), so that down renames a value back
// instead of recreating the type without it: A renamed to B, then to C,
// comes back as C to A.
func revertedEnumRenames(drv atlasmigrate.Driver, files []atlasmigrate.File) ([]EnumRename, error) {
	type key struct{ typ, orig string }
	var order []key
	cur := make(map[key]string)
	for _, f := range files {
		stmts, err := atlasmigrate.FileStmtDecls(drv, f)
		if err != nil {
			return nil, fmt.Errorf("read statements of %s: %w", f.Name(), err)
		}
		for _, st := range stmts {
			typ, from, to, ok := renameValueStmt(st.Text)
			if !ok {
				continue
			}
			typ = lastIdent(typ)
			renamed := false
			for k, v := range cur {
				if k.typ == typ && v == from {
					cur[k], renamed = to, true
				}
			}
			if !renamed {
				k := key{typ, from}
				cur[k] = to
				order = append(order, k)
			}
		}
	}
	var out []EnumRename
	for _, k := range order {
		if cur[k] != k.orig {
			out = append(out, EnumRename{Type: k.typ, From: cur[k], To: k.orig})
		}
	}
	return out, nil
}

// applicableRenames keeps the renames that planEnumChanges accepts for
// changes: the type loses From and gains To.
func applicableRenames(changes []schema.Change, renames []EnumRename) []EnumRename {
	var out []EnumRename
	for _, r := range renames {
		for _, c := range changes {
			m, ok := c.(*schema.ModifyObject)
			if !ok {
				continue
			}
			from, ok1 := m.From.(*schema.EnumType)
			to, ok2 := m.To.(*schema.EnumType)
			if ok1 && ok2 && from.T == r.Type &&
				slices.Contains(from.Values, r.From) && !slices.Contains(to.Values, r.From) &&
				slices.Contains(to.Values, r.To) && !slices.Contains(from.Values, r.To) {
				out = append(out, r)
			}
		}
	}
	return out
}

// leaveDefaultsToRecreation drops the default changes of columns whose enum
// type is recreated: the recreation sets their new default after the
// conversion, when a new default may name a value only the new type has
// (set before, on the old type, it would fail).
func leaveDefaultsToRecreation(changes []schema.Change, enums []*enumChange) []schema.Change {
	recreated := func(t schema.Type) bool {
		e, ok := t.(*schema.EnumType)
		return ok && slices.ContainsFunc(enums, func(c *enumChange) bool { return c.recreate() && c.To.T == e.T })
	}
	var out []schema.Change
	for _, c := range changes {
		m, ok := c.(*schema.ModifyTable)
		if !ok {
			out = append(out, c)
			continue
		}
		var tcs []schema.Change
		for _, tc := range m.Changes {
			mc, ok := tc.(*schema.ModifyColumn)
			if ok && mc.Change.Is(schema.ChangeDefault) && mc.To.Default != nil && recreated(mc.To.Type.Type) {
				if mc.Change &^= schema.ChangeDefault; mc.Change == schema.NoChange {
					continue
				}
			}
			tcs = append(tcs, tc)
		}
		if len(tcs) > 0 {
			mt := *m
			mt.Changes = tcs
			out = append(out, &mt)
		}
	}
	return out
}
