package migrate

import (
	"fmt"
	"regexp"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
)

// ClassIncompatible is the lint class of a change that breaks the release
// still running during a deploy. It has the name of the Atlas CLI's
// analyzer for backward-incompatible changes, so `-- atlas:nolint
// incompatible` reads the same to both tools.
const ClassIncompatible = "incompatible"

// deployCheck keeps deploys two-phase (expand, then contract). A file that
// adds things is the expand step: the new release applies it while the old
// one still serves, so the same file must not drop or rename a column or
// table the old release uses, or narrow the type of one. Those belong in a
// later migration, shipped once no release that needs them runs. A file
// that only removes things is such a later step and is not reported here.
//
// It sees the file statement by statement, as lintFile executes it, and
// judges once the whole file is known, since the addition may come after
// the breaking statement.
type deployCheck struct {
	file       string
	fileNolint []string
	existed    func(table string) bool
	adds       []string
	breaking   []Finding
	nolints    [][]string // per breaking finding, its statement's nolint list
}

// renameStmt matches ALTER TABLE … RENAME and ALTER INDEX … RENAME, which
// Atlas's diff shows as a drop and an add of the same thing under two
// names: the add is no addition, and the drop is a rename.
var (
	renameStmt       = regexp.MustCompile(`(?is)^\s*ALTER\s+(TABLE|INDEX)\b.*\bRENAME\b`)
	renameConstraint = regexp.MustCompile(`(?i)\bRENAME\s+CONSTRAINT\b`)
)

// statement records what the statement at index i changed.
func (d *deployCheck) statement(i int, st *atlasmigrate.Stmt, changes []schema.Change) {
	rename := renameStmt.MatchString(st.Text) && !renameConstraint.MatchString(st.Text)
	breaks := func(what string) {
		d.breaking = append(d.breaking, Finding{File: d.file, Stmt: i + 1, SQL: st.Text, Severity: SeverityError, Class: ClassIncompatible, Code: "AC501", Message: what})
		d.nolints = append(d.nolints, stmtNolint(st))
	}
	verb := "drops"
	if rename {
		verb = "renames"
	}
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.AddTable:
			d.add(!rename, "table "+c.T.Name)
		case *schema.AddObject:
			if e, ok := c.O.(*schema.EnumType); ok {
				d.add(true, "type "+e.T)
			}
		case *schema.DropTable:
			if d.existed(c.T.Name) {
				breaks(fmt.Sprintf("%s table %s", verb, c.T.Name))
			}
		case *schema.ModifyTable:
			d.table(c, rename, verb, breaks)
		}
	}
}

func (d *deployCheck) table(c *schema.ModifyTable, rename bool, verb string, breaks func(string)) {
	old := d.existed(c.T.Name)
	for _, tc := range c.Changes {
		switch tc := tc.(type) {
		case *schema.AddColumn:
			d.add(!rename, fmt.Sprintf("column %s.%s", c.T.Name, tc.C.Name))
		case *schema.AddIndex:
			d.add(!rename, "index "+tc.I.Name)
		case *schema.AddForeignKey:
			d.add(true, "foreign key "+tc.F.Symbol)
		case *schema.AddCheck:
			d.add(true, "check "+tc.C.Name)
		case *schema.DropColumn:
			if old {
				breaks(fmt.Sprintf("%s column %s.%s", verb, c.T.Name, tc.C.Name))
			}
		case *schema.ModifyColumn:
			if old && tc.Change.Is(schema.ChangeType) && !widens(tc.From.Type.Type, tc.To.Type.Type) {
				breaks(fmt.Sprintf("narrows the type of %s.%s from %s to %s", c.T.Name, tc.To.Name, typeName(tc.From.Type), typeName(tc.To.Type)))
			}
		}
	}
}

func (d *deployCheck) add(ok bool, what string) {
	if ok {
		d.adds = append(d.adds, what)
	}
}

// findings returns the breaking statements of a file that also adds
// things, less those a nolint directive exempts.
func (d *deployCheck) findings() []Finding {
	if len(d.adds) == 0 {
		return nil
	}
	added := d.adds[0]
	if len(d.adds) > 1 {
		added += fmt.Sprintf(" (and %d more)", len(d.adds)-1)
	}
	var out []Finding
	for i, f := range d.breaking {
		if suppressed(d.fileNolint, ClassIncompatible) || suppressed(d.nolints[i], ClassIncompatible) {
			continue
		}
		f.Message = fmt.Sprintf("%s in a file that also adds %s: breaks the running release; ship it in a later migration", f.Message, added)
		out = append(out, f)
	}
	return out
}

// widens reports whether every value of type from fits type to, so that a
// release written for from still reads and writes the column. Any other
// change of type counts as narrowing.
func widens(from, to schema.Type) bool {
	switch f := from.(type) {
	case *schema.StringType:
		t, ok := to.(*schema.StringType)
		if !ok {
			return false
		}
		if t.T == "text" || (t.Size == 0 && strings.Contains(t.T, "varying")) {
			return true
		}
		return f.T != "text" && f.Size > 0 && t.Size >= f.Size && (strings.Contains(t.T, "varying") || f.T == t.T)
	case *schema.IntegerType:
		t, ok := to.(*schema.IntegerType)
		return ok && intRank(t.T) >= intRank(f.T) && intRank(f.T) > 0
	case *schema.DecimalType:
		t, ok := to.(*schema.DecimalType)
		return ok && (t.Precision == 0 || (f.Precision > 0 && t.Scale >= f.Scale && t.Precision-t.Scale >= f.Precision-f.Scale))
	case *schema.FloatType:
		t, ok := to.(*schema.FloatType)
		return ok && (t.T == "double precision" || t.T == f.T)
	}
	return false
}

// narrowing says, for a type change that not every value survives
// (varchar(32) to varchar(16), bigint to integer), which query counts the
// values that will not fit; "" for any other change.
func narrowing(table string, c *schema.ModifyColumn) string {
	if !c.Change.Is(schema.ChangeType) || widens(c.From.Type.Type, c.To.Type.Type) {
		return ""
	}
	col, qt := quoteIdent(c.To.Name), quoteIdent(table)
	var where string
	switch to := c.To.Type.Type.(type) {
	case *schema.StringType:
		if to.Size == 0 {
			return ""
		}
		where = fmt.Sprintf("length(%s) > %d", col, to.Size)
	case *schema.IntegerType:
		lo, hi, ok := intRange(to.T)
		if _, isInt := c.From.Type.Type.(*schema.IntegerType); !ok || !isInt {
			return ""
		}
		where = fmt.Sprintf("%s NOT BETWEEN %d AND %d", col, lo, hi)
	default:
		return ""
	}
	return fmt.Sprintf("narrowing %s.%s from %s to %s fails (and rolls back) when a value does not fit; count them first: SELECT count(*) FROM %s WHERE %s",
		table, c.To.Name, typeName(c.From.Type), typeName(c.To.Type), qt, where)
}

// intRange is the range of a PostgreSQL integer type.
func intRange(t string) (lo, hi int64, ok bool) {
	switch intRank(t) {
	case 1:
		return -1 << 15, 1<<15 - 1, true
	case 2:
		return -1 << 31, 1<<31 - 1, true
	}
	return 0, 0, false
}

func intRank(t string) int {
	switch strings.ToLower(t) {
	case "smallint", "int2", "smallserial":
		return 1
	case "integer", "int", "int4", "serial":
		return 2
	case "bigint", "int8", "bigserial":
		return 3
	}
	return 0
}

func typeName(t *schema.ColumnType) string {
	if s, err := postgres.FormatType(t.Type); err == nil {
		return s
	}
	return t.Raw
}
