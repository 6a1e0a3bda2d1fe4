package migrate

import (
	"fmt"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// lintEnumModify judges one statement that changes an enum type's values
// in place. RENAME VALUE keeps the rows (they hold the type's value, not
// its label), so only other ways of losing a value are reported.
func lintEnumModify(c *schema.ModifyObject, stmt string, add addFinding) {
	e1, ok1 := c.From.(*schema.EnumType)
	e2, ok2 := c.To.(*schema.EnumType)
	if !ok1 || !ok2 || reRenameValue.MatchString(stmt) {
		return
	}
	for _, v := range e1.Values {
		if !slices.Contains(e2.Values, v) {
			add("AC302", SeverityError, ClassDestructive, fmt.Sprintf("drops value %s from enum %s", v, e1.T))
		}
	}
}

// lintEnumValues judges the enum types of a file as a whole: a value can
// only be dropped by recreating the type, over several statements. The
// finding is attached to the file's CREATE TYPE of the type, so
// `-- atlas:nolint destructive` above that statement (or at the top of the
// file) silences it. Values renamed by RENAME VALUE in the file are not
// dropped.
func lintEnumValues(file string, stmts []*atlasmigrate.Stmt, start, end *schema.Schema, fileNolint []string, rep *LintReport) {
	for _, o := range start.Objects {
		e1, ok := o.(*schema.EnumType)
		if !ok {
			continue
		}
		o2, ok := end.Object(func(o schema.Object) bool { e, ok := o.(*schema.EnumType); return ok && e.T == e1.T })
		if !ok {
			continue // reported as a dropped type
		}
		values, idx := enumValuesInFile(stmts, e1)
		removed, added := diffValues(values, o2.(*schema.EnumType).Values)
		if len(removed) == 0 || suppressed(fileNolint, ClassDestructive) {
			continue
		}
		f := Finding{File: file, Stmt: idx, Severity: SeverityError, Class: ClassDestructive, Code: "AC302"}
		if idx > 0 {
			f.SQL = stmts[idx-1].Text
			if suppressed(stmtNolint(stmts[idx-1]), ClassDestructive) {
				continue
			}
		}
		f.Message = fmt.Sprintf("drops value(s) %s from enum %s (the type is recreated); rows holding them make the conversion fail and the migration roll back. "+
			"Find them with %s and update them first; if none can exist, put `-- atlas:nolint destructive` above this statement",
			strings.Join(removed, ", "), e1.T, enumUseQueries(start, e1.T, removed))
		rep.Findings = append(rep.Findings, f)
		if len(added) > 0 {
			w := f
			w.Severity, w.Code = SeverityWarning, "AC304"
			w.Message = fmt.Sprintf("enum %s loses %s and gains %s: if a value was renamed, `accounts migrate diff --rename-enum-value %s.%s=%s` writes ALTER TYPE … RENAME VALUE instead, which keeps the rows",
				e1.T, strings.Join(removed, ", "), strings.Join(added, ", "), e1.T, removed[0], added[0])
			rep.Findings = append(rep.Findings, w)
		}
	}
}

// enumValuesInFile returns the values of enum type e after the file's
// RENAME VALUE statements, and the 1-based index of the file's first CREATE
// TYPE of it (0: none).
func enumValuesInFile(stmts []*atlasmigrate.Stmt, e *schema.EnumType) (values []string, createIdx int) {
	values = slices.Clone(e.Values)
	for i, st := range stmts {
		if typ, from, to, ok := renameValueStmt(st.Text); ok && lastIdent(typ) == e.T {
			if j := slices.Index(values, from); j >= 0 {
				values[j] = to
			}
		}
		if m := reCreateEnum.FindStringSubmatch(st.Text); m != nil && lastIdent(m[1]) == e.T && createIdx == 0 {
			createIdx = i + 1
		}
	}
	return values, createIdx
}

// diffValues returns the values of from missing in to, and those of to
// missing in from.
func diffValues(from, to []string) (removed, added []string) {
	for _, v := range from {
		if !slices.Contains(to, v) {
			removed = append(removed, v)
		}
	}
	for _, v := range to {
		if !slices.Contains(from, v) {
			added = append(added, v)
		}
	}
	return removed, added
}

// enumUseQueries are the queries that count the rows holding values of
// enum type typ.
func enumUseQueries(s *schema.Schema, typ string, values []string) string {
	var qs []string
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			if e, ok := c.Type.Type.(*schema.EnumType); ok && e.T == typ {
				qs = append(qs, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s::text IN (%s)", quoteIdent(t.Name), quoteIdent(c.Name), quoteLiterals(values)))
			}
		}
	}
	if len(qs) == 0 {
		return "a query on the columns of that type"
	}
	return strings.Join(qs, "; ")
}

// rewritesTable reports whether changing a column's type from one to the
// other makes PostgreSQL rewrite the table. Widening a varchar, dropping
// its length, and varchar to text (or text to an unbounded varchar) are
// binary-compatible: only the catalog changes.
func rewritesTable(from, to *schema.Column) bool {
	f, ok1 := from.Type.Type.(*schema.StringType)
	t, ok2 := to.Type.Type.(*schema.StringType)
	if !ok1 || !ok2 {
		return true
	}
	varchar := func(s string) bool { return s == "character varying" || s == "varchar" }
	switch {
	case varchar(f.T) && varchar(t.T):
		return t.Size != 0 && (f.Size == 0 || t.Size < f.Size)
	case varchar(f.T) && t.T == "text":
		return false
	case f.T == "text" && varchar(t.T):
		return t.Size != 0
	}
	return true
}

// enumRecreation reports whether stmt is a step of recreating an enum type
// that exists at the start of the file (moving it aside, creating it again,
// converting a column to it). What the recreation changes, lintEnumValues
// judges for the file as a whole; step by step it would look like a new
// type and columns changing type. A column that moves to an enum type from
// another type is no recreation.
func enumRecreation(stmt string, start *schema.Schema) bool {
	existed := func(name string) bool {
		_, ok := start.Object(func(o schema.Object) bool { e, ok := o.(*schema.EnumType); return ok && e.T == lastIdent(name) })
		return ok
	}
	if m := reRenameType.FindStringSubmatch(stmt); m != nil {
		return existed(m[1])
	}
	if m := reCreateEnum.FindStringSubmatch(stmt); m != nil {
		return existed(m[1])
	}
	if m := reEnumCast.FindStringSubmatch(stmt); m != nil {
		// Only a column that had this very type at the start of the file.
		t, ok := start.Table(lastIdent(m[1]))
		if !ok {
			return false
		}
		c, ok := t.Column(unquoteIdent(m[2]))
		if !ok {
			return false
		}
		e, ok := c.Type.Type.(*schema.EnumType)
		return ok && e.T == lastIdent(m[3])
	}
	return false
}
