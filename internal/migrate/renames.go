package migrate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// ColumnRename says that a column was renamed in the Ent schema
// (--rename-column TABLE.OLD=NEW): diff writes ALTER TABLE … RENAME COLUMN,
// which keeps the data, instead of dropping OLD and adding NEW.
type ColumnRename struct {
	Table, From, To string
}

func (r ColumnRename) String() string { return r.Table + "." + r.From + "=" + r.To }

// TableRename says that a table was renamed (--rename-table OLD=NEW): diff
// writes ALTER TABLE … RENAME TO, which keeps the rows.
type TableRename struct {
	From, To string
}

func (r TableRename) String() string { return r.From + "=" + r.To }

// ParseColumnRename parses TABLE.OLD=NEW (the --rename-column flag).
func ParseColumnRename(s string) (ColumnRename, error) {
	table, rest, ok1 := strings.Cut(s, ".")
	from, to, ok2 := strings.Cut(rest, "=")
	r := ColumnRename{Table: strings.TrimSpace(table), From: strings.TrimSpace(from), To: strings.TrimSpace(to)}
	if !ok1 || !ok2 || r.Table == "" || r.From == "" || r.To == "" {
		return ColumnRename{}, fmt.Errorf("--rename-column %q: write TABLE.OLD=NEW, e.g. users.nick=nickname", s)
	}
	if r.From == r.To {
		return ColumnRename{}, fmt.Errorf("--rename-column %q: the old and the new name are the same", s)
	}
	return r, nil
}

// ParseTableRename parses OLD=NEW (the --rename-table flag).
func ParseTableRename(s string) (TableRename, error) {
	from, to, ok := strings.Cut(s, "=")
	r := TableRename{From: strings.TrimSpace(from), To: strings.TrimSpace(to)}
	if !ok || r.From == "" || r.To == "" || strings.Contains(r.From, ".") {
		return TableRename{}, fmt.Errorf("--rename-table %q: write OLD=NEW, e.g. sessions=auth_sessions", s)
	}
	if r.From == r.To {
		return TableRename{}, fmt.Errorf("--rename-table %q: the old and the new name are the same", s)
	}
	return r, nil
}

// applyRenames rewrites a diff's drops and adds into renames: the tables
// and columns named by the flags (strict: a flag that matches no drop and
// add is an error; down passes the reverted files' renames leniently), and
// every index dropped and added with the same definition under a new name.
// A diff with no rename flag keeps its index drops and adds: that is the
// file the Atlas CLI writes for the same change, and both tools write the
// same files.
func applyRenames(d schema.Differ, changes []schema.Change, cols []ColumnRename, tables []TableRename, strict bool) ([]schema.Change, error) {
	changes, err := renameTables(d, changes, tables, strict)
	if err != nil {
		return nil, err
	}
	cols = followTableRenames(cols, tables)
	for _, r := range cols {
		m := findModifyTable(changes, r.Table)
		ok := false
		if m != nil {
			ok, err = renameColumn(d, m, r)
			if err != nil {
				return nil, err
			}
		}
		if !ok && strict {
			return nil, fmt.Errorf("--rename-column %s: the diff does not drop column %s.%s and add %s.%s", r, r.Table, r.From, r.Table, r.To)
		}
	}
	if strict && len(cols) == 0 && len(tables) == 0 {
		return changes, nil
	}
	for _, c := range changes {
		if m, ok := c.(*schema.ModifyTable); ok {
			if err := renameIndexes(d, m, cols); err != nil {
				return nil, err
			}
		}
	}
	return dropEmptyModifies(changes), nil
}

// followTableRenames names the table of each column rename by its new name
// when the same change renames the table: the changes hold the table under
// that name (down reverts a file that renamed both).
func followTableRenames(cols []ColumnRename, tables []TableRename) []ColumnRename {
	out := slices.Clone(cols)
	for i, r := range out {
		for _, tr := range tables {
			if tr.From == r.Table {
				out[i].Table = tr.To
			}
		}
	}
	return out
}

func findModifyTable(changes []schema.Change, name string) *schema.ModifyTable {
	for _, c := range changes {
		if m, ok := c.(*schema.ModifyTable); ok && m.T.Name == name {
			return m
		}
	}
	return nil
}

// renameTables turns a DropTable OLD and an AddTable NEW into a
// RenameTable and the changes left between the two definitions.
func renameTables(d schema.Differ, changes []schema.Change, renames []TableRename, strict bool) ([]schema.Change, error) {
	for _, r := range renames {
		di := slices.IndexFunc(changes, func(c schema.Change) bool { dt, ok := c.(*schema.DropTable); return ok && dt.T.Name == r.From })
		ai := slices.IndexFunc(changes, func(c schema.Change) bool { at, ok := c.(*schema.AddTable); return ok && at.T.Name == r.To })
		if di < 0 || ai < 0 {
			if strict {
				return nil, fmt.Errorf("--rename-table %s: the diff does not drop table %s and add table %s", r, r.From, r.To)
			}
			continue
		}
		from, to := changes[di].(*schema.DropTable).T, changes[ai].(*schema.AddTable).T
		renamed := *from
		renamed.Name = to.Name
		rest, err := d.TableDiff(&renamed, to)
		if err != nil {
			return nil, fmt.Errorf("--rename-table %s: %w", r, err)
		}
		changes[di] = &schema.RenameTable{From: from, To: to}
		changes[ai] = &schema.ModifyTable{T: to, Changes: renameForeignKeys(rest)}
		// The table goes before its remaining changes.
		if ai < di {
			changes[ai], changes[di] = changes[di], changes[ai]
		}
		// PostgreSQL updates the foreign keys that reference a renamed table.
		for _, c := range changes {
			if m, ok := c.(*schema.ModifyTable); ok {
				m.Changes = slices.DeleteFunc(m.Changes, func(tc schema.Change) bool {
					mf, ok := tc.(*schema.ModifyForeignKey)
					return ok && mf.Change == schema.ChangeRefTable && mf.From.RefTable != nil && mf.From.RefTable.Name == r.From && mf.To.RefTable.Name == r.To
				})
			}
		}
	}
	return changes, nil
}

// renameColumn turns DropColumn FROM and AddColumn TO of m into a
// RenameColumn and whatever else differs between the two definitions.
func renameColumn(d schema.Differ, m *schema.ModifyTable, r ColumnRename) (bool, error) {
	di := slices.IndexFunc(m.Changes, func(c schema.Change) bool { dc, ok := c.(*schema.DropColumn); return ok && dc.C.Name == r.From })
	ai := slices.IndexFunc(m.Changes, func(c schema.Change) bool { ac, ok := c.(*schema.AddColumn); return ok && ac.C.Name == r.To })
	if di < 0 || ai < 0 {
		return false, nil
	}
	from, to := m.Changes[di].(*schema.DropColumn).C, m.Changes[ai].(*schema.AddColumn).C
	renamed := *from
	renamed.Name = to.Name
	rest, err := d.TableDiff(&schema.Table{Name: m.T.Name, Schema: m.T.Schema, Columns: []*schema.Column{&renamed}},
		&schema.Table{Name: m.T.Name, Schema: m.T.Schema, Columns: []*schema.Column{to}})
	if err != nil {
		return false, fmt.Errorf("--rename-column %s: %w", r, err)
	}
	m.Changes[di] = &schema.RenameColumn{From: from, To: to}
	m.Changes = slices.Delete(m.Changes, ai, ai+1)
	m.Changes = append(m.Changes, rest...)
	return true, nil
}

// renameForeignKeys turns each DropForeignKey and AddForeignKey of a
// renamed table's changes that define the same key under another name (Ent
// names a key after its table) into a RenameConstraint: the key is renamed,
// not dropped and validated again under lock.
func renameForeignKeys(changes []schema.Change) []schema.Change {
	var out []schema.Change
	used := make(map[int]bool)
	for _, c := range changes {
		d, ok := c.(*schema.DropForeignKey)
		if !ok {
			continue
		}
		for j, c2 := range changes {
			if a, ok := c2.(*schema.AddForeignKey); ok && !used[j] && sameForeignKey(d.F, a.F) {
				used[j] = true
				out = append(out, &schema.RenameConstraint{From: d.F, To: a.F})
				break
			}
		}
	}
	renamed := func(fk *schema.ForeignKey) bool {
		return slices.ContainsFunc(out, func(c schema.Change) bool {
			r := c.(*schema.RenameConstraint)
			return r.From == fk || r.To == fk
		})
	}
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.DropForeignKey:
			if renamed(c.F) {
				continue
			}
		case *schema.AddForeignKey:
			if renamed(c.F) {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// sameForeignKey reports whether a and b differ in their name only.
func sameForeignKey(a, b *schema.ForeignKey) bool {
	names := func(cs []*schema.Column) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.Name
		}
		return out
	}
	return slices.Equal(names(a.Columns), names(b.Columns)) && slices.Equal(names(a.RefColumns), names(b.RefColumns)) &&
		a.RefTable != nil && b.RefTable != nil && a.RefTable.Name == b.RefTable.Name &&
		a.OnUpdate == b.OnUpdate && a.OnDelete == b.OnDelete
}

// renameIndexes turns each DropIndex and AddIndex of m whose definitions
// agree (up to renamed columns) into a RenameIndex, and drops a
// ModifyIndex whose only difference is a renamed column (PostgreSQL keeps
// an index on a renamed column).
func renameIndexes(d schema.Differ, m *schema.ModifyTable, cols []ColumnRename) error {
	var out []schema.Change
	used := make(map[int]bool)
	for i, c := range m.Changes {
		switch c := c.(type) {
		case *schema.DropIndex:
			j, err := matchingAddIndex(d, m, c.I, cols, used)
			if err != nil {
				return err
			}
			if j < 0 {
				out = append(out, c)
				continue
			}
			used[j] = true
			out = append(out, &schema.RenameIndex{From: c.I, To: m.Changes[j].(*schema.AddIndex).I})
		case *schema.ModifyIndex:
			same, err := sameIndex(d, m.T, c.From, c.To, cols)
			if err != nil {
				return err
			}
			if !same {
				out = append(out, c)
			}
		default:
			if !used[i] {
				out = append(out, c)
			}
		}
	}
	// AddIndex entries consumed by a rename are skipped above only when
	// they come after the drop; remove any that came before.
	m.Changes = slices.DeleteFunc(out, func(c schema.Change) bool {
		ai, ok := c.(*schema.AddIndex)
		return ok && slices.ContainsFunc(out, func(o schema.Change) bool { r, ok := o.(*schema.RenameIndex); return ok && r.To == ai.I })
	})
	return nil
}

// matchingAddIndex returns the position in m.Changes of the first AddIndex
// not yet used that defines the same index as dropped, up to renamed
// columns, or -1.
func matchingAddIndex(d schema.Differ, m *schema.ModifyTable, dropped *schema.Index, cols []ColumnRename, used map[int]bool) (int, error) {
	for k, a := range m.Changes {
		ai, ok := a.(*schema.AddIndex)
		if !ok || used[k] {
			continue
		}
		same, err := sameIndex(d, m.T, dropped, ai.I, cols)
		if err != nil || same {
			return k, err
		}
	}
	return -1, nil
}

// sameIndex reports whether index a (of the table before the change) and
// b define the same index, a's columns renamed by cols: the differ finds
// nothing between them once they have one name.
func sameIndex(d schema.Differ, t *schema.Table, a, b *schema.Index, cols []ColumnRename) (bool, error) {
	ca := *a
	ca.Name = b.Name
	ca.Parts = nil
	for _, p := range a.Parts {
		cp := *p
		if p.C != nil {
			c := *p.C
			for _, r := range cols {
				if r.Table == t.Name && r.From == c.Name {
					c.Name = r.To
				}
			}
			cp.C = &c
		}
		ca.Parts = append(ca.Parts, &cp)
	}
	x := &schema.Table{Name: t.Name, Schema: t.Schema, Columns: t.Columns, Indexes: []*schema.Index{&ca}}
	y := &schema.Table{Name: t.Name, Schema: t.Schema, Columns: t.Columns, Indexes: []*schema.Index{b}}
	changes, err := d.TableDiff(x, y)
	if err != nil {
		return false, fmt.Errorf("compare indexes %s and %s: %w", a.Name, b.Name, err)
	}
	return len(changes) == 0, nil
}

func dropEmptyModifies(changes []schema.Change) []schema.Change {
	return slices.DeleteFunc(changes, func(c schema.Change) bool {
		m, ok := c.(*schema.ModifyTable)
		return ok && len(m.Changes) == 0
	})
}

// renameHints are notes for a diff that drops a table and adds one, or
// drops a column and adds one of the same type to the same table: it may be
// a rename, which the flag keeps.
func renameHints(changes []schema.Change) []string {
	var notes []string
	for _, c := range changes {
		if dt, ok := c.(*schema.DropTable); ok {
			for _, c2 := range changes {
				if at, ok := c2.(*schema.AddTable); ok {
					notes = append(notes, fmt.Sprintf("the diff drops table %s and adds table %s; dropping loses its rows. "+
						"If it was renamed, `accounts migrate diff NAME --rename-table %s=%s` writes ALTER TABLE … RENAME TO instead, which keeps them",
						dt.T.Name, at.T.Name, dt.T.Name, at.T.Name))
				}
			}
		}
		m, ok := c.(*schema.ModifyTable)
		if !ok {
			continue
		}
		for _, pair := range dropAddPairs(m) {
			notes = append(notes, fmt.Sprintf("table %s drops column %s and adds column %s of the same type; dropping loses the column's data. "+
				"If it was renamed, `accounts migrate diff NAME --rename-column %s.%s=%s` writes ALTER TABLE … RENAME COLUMN instead, which keeps it",
				m.T.Name, pair[0], pair[1], m.T.Name, pair[0], pair[1]))
		}
	}
	return notes
}

// dropAddPairs lists the (dropped, added) column names of m with the same
// type.
func dropAddPairs(m *schema.ModifyTable) [][2]string {
	var out [][2]string
	for _, c := range m.Changes {
		dc, ok := c.(*schema.DropColumn)
		if !ok {
			continue
		}
		for _, c2 := range m.Changes {
			ac, ok := c2.(*schema.AddColumn)
			if ok && typeName(dc.C.Type) == typeName(ac.C.Type) {
				out = append(out, [2]string{dc.C.Name, ac.C.Name})
			}
		}
	}
	return out
}

var (
	reRenameColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(` + sqlQIdent + `)\s+RENAME\s+(?:COLUMN\s+)?(` + sqlIdent + `)\s+TO\s+(` + sqlIdent + `)\s*;?\s*$`)
	reRenameTable  = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(` + sqlQIdent + `)\s+RENAME\s+TO\s+(` + sqlIdent + `)\s*;?\s*$`)
	// reRenameConstraint matches the statement takeConstraintRenames writes.
	reRenameConstraint = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(` + sqlQIdent + `)\s+RENAME\s+CONSTRAINT\s+(` + sqlIdent + `)\s+TO\s+(` + sqlIdent + `)\s*;?\s*$`)
)

// renamedConstraints is the changes of a RENAME CONSTRAINT statement (a
// foreign key dropped and added under another name, as the differ sees
// it) with the key renamed, so that lint sees no dropped or new key; any
// other statement's changes are returned as they are.
func renamedConstraints(stmt string, changes []schema.Change) []schema.Change {
	if !reRenameConstraint.MatchString(stripLeadingComments(stmt)) {
		return changes
	}
	out := slices.Clone(changes)
	for i, c := range out {
		if m, ok := c.(*schema.ModifyTable); ok {
			cp := *m
			cp.Changes = renameForeignKeys(m.Changes)
			out[i] = &cp
		}
	}
	return out
}

// revertedRenames returns the renames that undo the RENAME COLUMN and
// RENAME TO statements of files, newest first, so that down renames back
// instead of dropping and adding (index renames are found by definition).
func revertedRenames(drv atlasmigrate.Driver, files []atlasmigrate.File) ([]ColumnRename, []TableRename, error) {
	var cols []ColumnRename
	var tables []TableRename
	for i := len(files) - 1; i >= 0; i-- {
		stmts, err := atlasmigrate.FileStmtDecls(drv, files[i])
		if err != nil {
			return nil, nil, fmt.Errorf("read statements of %s: %w", files[i].Name(), err)
		}
		for j := len(stmts) - 1; j >= 0; j-- {
			text := stripLeadingComments(stmts[j].Text)
			if m := reRenameTable.FindStringSubmatch(text); m != nil {
				tables = append(tables, TableRename{From: unquoteIdent(m[2]), To: lastIdent(m[1])})
			} else if m := reRenameColumn.FindStringSubmatch(text); m != nil {
				cols = append(cols, ColumnRename{Table: lastIdent(m[1]), From: unquoteIdent(m[3]), To: unquoteIdent(m[2])})
			}
		}
	}
	return cols, tables, nil
}
