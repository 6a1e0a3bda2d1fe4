package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// EnumValueInUseError is returned by Apply when a migration file converts a
// column to an enum type that lacks values rows of the column still hold:
// the conversion would fail half-way, so the file is not started.
type EnumValueInUseError struct {
	File   string
	Table  string
	Column string
	Type   string   // the enum type the column is converted to
	Values []string // the values it lacks that rows hold
	Rows   int64
}

func (e *EnumValueInUseError) Error() string {
	return fmt.Sprintf("refusing to apply %s: it converts %s.%s to enum type %s, which has no value %s, but %d row(s) hold it; nothing was applied. "+
		"Find them with SELECT count(*) FROM %s WHERE %s::text IN (%s), update them to a value that stays, then run apply again",
		e.File, e.Table, e.Column, e.Type, strings.Join(e.Values, ", "), e.Rows,
		e.Table, e.Column, quoteLiterals(e.Values))
}

func quoteLiterals(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = quoteLiteral(v)
	}
	return strings.Join(q, ", ")
}

const (
	sqlIdent  = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`
	sqlQIdent = sqlIdent + `(?:\s*\.\s*` + sqlIdent + `)?`
	sqlString = `'((?:[^']|'')*)'`
)

// The statements of a recreated enum type, as enumRecreateChanges writes
// them and as they are commonly written by hand.
var (
	reRenameValue = regexp.MustCompile(`(?is)^\s*ALTER\s+TYPE\s+(` + sqlQIdent + `)\s+RENAME\s+VALUE\s+` + sqlString + `\s+TO\s+` + sqlString + `\s*;?\s*$`)
	reRenameType  = regexp.MustCompile(`(?is)^\s*ALTER\s+TYPE\s+(` + sqlQIdent + `)\s+RENAME\s+TO\s+(` + sqlIdent + `)\s*;?\s*$`)
	reCreateEnum  = regexp.MustCompile(`(?is)^\s*CREATE\s+TYPE\s+(` + sqlQIdent + `)\s+AS\s+ENUM\s*\((.*)\)\s*;?\s*$`)
	reEnumCast    = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(` + sqlQIdent + `)\s+ALTER\s+COLUMN\s+(` + sqlIdent + `)\s+(?:SET\s+DATA\s+)?TYPE\s+(` + sqlQIdent + `)\s+USING\s+(.+?)\s*;?\s*$`)
	reAddValue    = regexp.MustCompile(`(?is)^\s*ALTER\s+TYPE\s+(` + sqlQIdent + `)\s+ADD\s+VALUE\s+(?:IF\s+NOT\s+EXISTS\s+)?` + sqlString)
	reString      = regexp.MustCompile(sqlString)
)

// renameValueStmt parses ALTER TYPE typ RENAME VALUE 'from' TO 'to'; typ
// is as written (possibly quoted and schema-qualified).
func renameValueStmt(text string) (typ, from, to string, ok bool) {
	m := reRenameValue.FindStringSubmatch(text)
	if m == nil {
		return "", "", "", false
	}
	return m[1], strings.ReplaceAll(m[2], "''", "'"), strings.ReplaceAll(m[3], "''", "'"), true
}

// unquoteIdent turns an identifier as written in SQL into its name.
func unquoteIdent(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, `"`) {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return strings.ToLower(s)
}

var reIdent = regexp.MustCompile(sqlIdent)

// lastIdent is the object name of a possibly schema-qualified identifier.
func lastIdent(s string) string {
	m := reIdent.FindAllString(s, -1)
	if len(m) == 0 {
		return s
	}
	return unquoteIdent(m[len(m)-1])
}

// simEnum is an enum type as a migration file changes it: the labels rows
// hold now (when the file starts) and what each has become.
type simEnum struct {
	oid     uint32            // 0 for a type the file creates
	labels  map[string]string // label at file start -> label now
	created []string          // the values of a type the file creates
}

// enumGuard follows a migration file's enum statements to find
// conversions that rows make fail.
type enumGuard struct {
	ctx    context.Context
	q      execQuerier
	byName map[string]*simEnum
	byOID  map[uint32]*simEnum
}

// guardEnumValueDrops refuses stmts (the statements of f still to run)
// when one converts a column `USING col::text::type` to an enum type that
// lacks values rows of the column hold. It reads the database before any
// statement runs: every rename of values and types in the file before the
// conversion is followed, so a file that renames a value first is judged
// by the renamed value. Hand-written conversions that map values (a CASE
// expression) are left alone.
func guardEnumValueDrops(ctx context.Context, q execQuerier, file string, stmts []*atlasmigrate.Stmt) error {
	g := &enumGuard{ctx: ctx, q: q, byName: map[string]*simEnum{}, byOID: map[uint32]*simEnum{}}
	for _, st := range stmts {
		if err := g.stmt(file, st.Text); err != nil {
			return err
		}
	}
	return nil
}

func (g *enumGuard) stmt(file, text string) error {
	if typ, from, to, ok := renameValueStmt(text); ok {
		e, err := g.lookup(typ)
		if err != nil || e == nil {
			return err
		}
		for orig, cur := range e.labels {
			if cur == from {
				e.labels[orig] = to
			}
		}
		if i := slices.Index(e.created, from); i >= 0 {
			e.created[i] = to
		}
		return nil
	}
	if m := reAddValue.FindStringSubmatch(text); m != nil {
		e, err := g.lookup(m[1])
		if err != nil || e == nil {
			return err
		}
		v := strings.ReplaceAll(m[2], "''", "'")
		if e.labels != nil {
			e.labels[v] = v // no row holds it yet
		} else {
			e.created = append(e.created, v)
		}
		return nil
	}
	if m := reRenameType.FindStringSubmatch(text); m != nil {
		e, err := g.lookup(m[1])
		if err != nil || e == nil {
			return err
		}
		delete(g.byName, lastIdent(m[1]))
		g.byName[unquoteIdent(m[2])] = e
		return nil
	}
	if m := reCreateEnum.FindStringSubmatch(text); m != nil {
		var vals []string
		for _, v := range reString.FindAllStringSubmatch(m[2], -1) {
			vals = append(vals, strings.ReplaceAll(v[1], "''", "'"))
		}
		g.byName[lastIdent(m[1])] = &simEnum{created: vals}
		return nil
	}
	if m := reEnumCast.FindStringSubmatch(text); m != nil {
		return g.cast(file, m[1], m[2], m[3], m[4])
	}
	return nil
}

// lookup returns the enum type a name refers to at this point of the file;
// nil when it is no enum type.
func (g *enumGuard) lookup(name string) (*simEnum, error) {
	if e, ok := g.byName[lastIdent(name)]; ok {
		return e, nil
	}
	var oid sql.NullInt64
	if err := g.q.QueryRowContext(g.ctx, `SELECT t.oid::bigint FROM pg_type t WHERE t.oid = to_regtype($1) AND t.typtype = 'e'`, name).Scan(&oid); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("look up enum type %s: %w", name, err)
	}
	if !oid.Valid {
		return nil, nil
	}
	e, err := g.load(uint32(oid.Int64))
	if err == nil {
		g.byName[lastIdent(name)] = e
	}
	return e, err
}

func (g *enumGuard) load(oid uint32) (*simEnum, error) {
	if e, ok := g.byOID[oid]; ok {
		return e, nil
	}
	rows, err := g.q.QueryContext(g.ctx, `SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder`, int64(oid))
	if err != nil {
		return nil, fmt.Errorf("read the values of enum type %d: %w", oid, err)
	}
	defer func() { _ = rows.Close() }() // rows.Err() reports a failed read
	e := &simEnum{oid: oid, labels: map[string]string{}}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, err
		}
		e.labels[l] = l
	}
	g.byOID[oid] = e
	return e, rows.Err()
}

// cast judges ALTER TABLE table ALTER COLUMN col TYPE typ USING using.
func (g *enumGuard) cast(file, table, col, typ, using string) error {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer(`"`, "", " ", "", "\t", "", "\n", "").Replace(s))
	}
	if norm(using) != norm(col)+"::text::"+norm(typ) {
		return nil
	}
	target, err := g.lookup(typ)
	if err != nil || target == nil {
		return err
	}
	allowed := target.created
	if target.created == nil {
		for _, cur := range target.labels {
			allowed = append(allowed, cur)
		}
	}
	var oid sql.NullInt64
	err = g.q.QueryRowContext(g.ctx, `SELECT a.atttypid::bigint FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped`,
		table, unquoteIdent(col)).Scan(&oid)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !oid.Valid) {
		return nil // created by this file: no rows yet
	}
	if err != nil {
		return fmt.Errorf("look up column %s.%s: %w", table, col, err)
	}
	var typtype string
	if err := g.q.QueryRowContext(g.ctx, `SELECT typtype FROM pg_type WHERE oid = $1`, oid.Int64).Scan(&typtype); err != nil || typtype != "e" {
		return err // not an enum column: PostgreSQL judges the text cast itself
	}
	from, err := g.load(uint32(oid.Int64))
	if err != nil {
		return err
	}
	var gone, goneNow []string
	for orig, cur := range from.labels {
		if !slices.Contains(allowed, cur) {
			gone, goneNow = append(gone, orig), append(goneNow, cur)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	rows, err := g.q.QueryContext(g.ctx, "SELECT "+col+"::text, count(*) FROM "+table+" WHERE "+col+"::text = ANY($1) GROUP BY 1 ORDER BY 1", gone)
	if err != nil {
		return fmt.Errorf("count rows of %s.%s holding %s: %w", table, col, strings.Join(goneNow, ", "), err)
	}
	defer func() { _ = rows.Close() }() // rows.Err() reports a failed read
	inUse := &EnumValueInUseError{File: file, Table: lastIdent(table), Column: unquoteIdent(col), Type: lastIdent(typ)}
	for rows.Next() {
		var (
			v string
			n int64
		)
		if err := rows.Scan(&v, &n); err != nil {
			return err
		}
		inUse.Values = append(inUse.Values, from.labels[v])
		inUse.Rows += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if inUse.Rows == 0 {
		return nil
	}
	return inUse
}
