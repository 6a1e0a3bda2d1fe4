package migrate

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// ClassTxMode marks a statement that cannot run in the transaction its file
// runs in; usable in `-- atlas:nolint` comments like the other classes.
const ClassTxMode = "txmode"

// Statement shapes the blocking-change rules tell apart.
var (
	createIndexPrefix = regexp.MustCompile(`(?is)^CREATE\s+(UNIQUE\s+)?INDEX\b`)
	dropIndexPrefix   = regexp.MustCompile(`(?is)^DROP\s+INDEX\b`)
	addUniqueClause   = regexp.MustCompile(`(?is)\b(UNIQUE|PRIMARY\s+KEY)\b`)
	usingIndexClause  = regexp.MustCompile(`(?is)\bUSING\s+INDEX\b`)
	notValidClause    = regexp.MustCompile(`(?is)\bNOT\s+VALID\b`)
	funcCall          = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*\(`)
)

// lintBlocking reports the statements of f that keep the service waiting
// on a table that exists before the file (a table the file creates is empty
// and unused), each with the way to write it online, and a CONCURRENTLY
// statement in a file that runs in a transaction. stmt has just run on the
// dev database, changing its schema by changes.
func lintBlocking(ctx context.Context, dev *devDB, f atlasmigrate.File, stmt string, changes []schema.Change, existed func(string) bool, add addFinding) error {
	text := stripLeadingComments(stmt)
	if concurrentStmt(text) && !slices.Contains(fileDirectives(f, "txmode"), string(TxModeNone)) {
		add("AC201", SeverityError, ClassTxMode, "CONCURRENTLY cannot run inside a transaction block, and this file runs in one: "+
			"put `-- atlas:txmode none` and a blank line at the top of the file (both tools' migrate diff do), "+
			"then `accounts migrate hash`")
	}
	for _, c := range changes {
		m, ok := c.(*schema.ModifyTable)
		if !ok || !existed(m.T.Name) {
			continue
		}
		for _, tc := range m.Changes {
			msg, err := blockingChange(ctx, dev, m.T, tc, text)
			if err != nil {
				return err
			}
			if msg != "" {
				add("AC101", SeverityWarning, ClassLock, msg)
			}
		}
	}
	return nil
}

// blockingChange returns what blocks in one change of table t made by stmt,
// and the fix; "" when nothing does.
func blockingChange(ctx context.Context, dev *devDB, t *schema.Table, c schema.Change, stmt string) (string, error) {
	online := strings.Contains(strings.ToUpper(stmt), "CONCURRENTLY")
	switch c := c.(type) {
	case *schema.AddIndex:
		switch {
		case createIndexPrefix.MatchString(stmt) && !online:
			return fmt.Sprintf("CREATE INDEX %s blocks writes to %s while it builds; use CREATE INDEX CONCURRENTLY in a file that starts with `-- atlas:txmode none`", c.I.Name, t.Name), nil
		case !createIndexPrefix.MatchString(stmt) && addUniqueClause.MatchString(stmt) && !usingIndexClause.MatchString(stmt):
			return fmt.Sprintf("constraint %s builds its unique index while %s is locked against reads and writes; "+
				"first CREATE UNIQUE INDEX CONCURRENTLY %s ON %s (%s) in a `-- atlas:txmode none` file, then ALTER TABLE %s ADD CONSTRAINT %s UNIQUE USING INDEX %s",
				c.I.Name, t.Name, c.I.Name, t.Name, indexColumns(c.I), t.Name, c.I.Name, c.I.Name), nil
		}
	case *schema.DropIndex:
		if dropIndexPrefix.MatchString(stmt) && !online {
			return fmt.Sprintf("DROP INDEX %s locks %s against reads and writes (and waits behind every open transaction that used it); use DROP INDEX CONCURRENTLY in a file that starts with `-- atlas:txmode none`", c.I.Name, t.Name), nil
		}
	case *schema.AddColumn:
		return volatileDefault(ctx, dev, t, c.C)
	case *schema.ModifyColumn:
		if c.Change.Is(schema.ChangeNull) && !c.To.Type.Null {
			return setNotNull(ctx, dev, t, c.To)
		}
	case *schema.AddForeignKey:
		if !notValidClause.MatchString(stmt) {
			return fmt.Sprintf("foreign key %s is validated by scanning %s while it is locked against writes; add it NOT VALID, then ALTER TABLE %s VALIDATE CONSTRAINT %s in a later file (in the same transaction the first lock is still held)",
				c.F.Symbol, t.Name, t.Name, c.F.Symbol), nil
		}
	case *schema.ModifyForeignKey:
		if !notValidClause.MatchString(stmt) {
			return fmt.Sprintf("foreign key %s is dropped and added again with another definition, and adding it validates every row of %s while %s and %s are locked against writes; "+
				"add the new definition NOT VALID (under a new name, then drop the old one), then ALTER TABLE %s VALIDATE CONSTRAINT in a later file",
				c.To.Symbol, t.Name, t.Name, refTableName(c.To), t.Name), nil
		}
	case *schema.ModifyCheck:
		if !notValidClause.MatchString(stmt) {
			return fmt.Sprintf("check %s is dropped and added again with another definition, and adding it validates every row of %s under an ACCESS EXCLUSIVE lock (reads and writes wait); "+
				"add it NOT VALID, then ALTER TABLE %s VALIDATE CONSTRAINT %s in a later file", c.To.Name, t.Name, t.Name, c.To.Name), nil
		}
	case *schema.AddCheck:
		if !notValidClause.MatchString(stmt) {
			return fmt.Sprintf("check %s is validated by scanning %s under an ACCESS EXCLUSIVE lock (reads and writes wait); add it NOT VALID, then ALTER TABLE %s VALIDATE CONSTRAINT %s in a later file (in the same transaction the first lock is still held)",
				c.C.Name, t.Name, t.Name, c.C.Name), nil
		}
	}
	return "", nil
}

func refTableName(fk *schema.ForeignKey) string {
	if fk.RefTable != nil {
		return fk.RefTable.Name
	}
	return "the referenced table"
}

// volatileDefault flags a column added with a volatile default (random(),
// gen_random_uuid(), clock_timestamp(), nextval() of a serial...): every
// existing row needs its own value, so PostgreSQL rewrites the table under
// an ACCESS EXCLUSIVE lock. A constant or stable default (now()) is stored
// once and costs nothing.
func volatileDefault(ctx context.Context, dev *devDB, t *schema.Table, c *schema.Column) (string, error) {
	x, ok := c.Default.(*schema.RawExpr)
	if !ok {
		return "", nil
	}
	var names []string
	for _, m := range funcCall.FindAllStringSubmatch(x.X, -1) {
		names = append(names, strings.ToLower(m[1]))
	}
	if len(names) == 0 {
		return "", nil
	}
	var volatile bool
	if err := dev.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = ANY($1) AND provolatile = 'v')`, names).Scan(&volatile); err != nil {
		return "", fmt.Errorf("look up the volatility of %s: %w", x.X, err)
	}
	if !volatile {
		return "", nil
	}
	return fmt.Sprintf("ADD COLUMN %s.%s with the volatile default %s rewrites %s under an ACCESS EXCLUSIVE lock (each row gets its own value); "+
		"add the column without a default, then SET DEFAULT %s (new rows), then fill the existing rows in batches", t.Name, c.Name, x.X, t.Name, x.X), nil
}

// setNotNull flags SET NOT NULL unless a validated CHECK (col IS NOT NULL)
// already proves it: then PostgreSQL (12 and later) skips the scan.
func setNotNull(ctx context.Context, dev *devDB, t *schema.Table, c *schema.Column) (string, error) {
	var proven bool
	err := dev.db.QueryRowContext(ctx, `
SELECT EXISTS (SELECT 1 FROM pg_constraint
  WHERE conrelid = to_regclass($1) AND contype = 'c' AND convalidated
    AND (pg_get_constraintdef(oid) ILIKE '%' || $2 || ' IS NOT NULL%' OR pg_get_constraintdef(oid) ILIKE '%' || $3 || ' IS NOT NULL%'))`,
		quoteIdent(t.Name), c.Name, quoteIdent(c.Name)).Scan(&proven)
	if err != nil {
		return "", fmt.Errorf("look for a CHECK (%s IS NOT NULL) on %s: %w", c.Name, t.Name, err)
	}
	if proven {
		return "", nil
	}
	return fmt.Sprintf("SET NOT NULL on %s.%s scans the whole table under an ACCESS EXCLUSIVE lock (and fails if NULLs exist); "+
		"first ADD CONSTRAINT %s_not_null CHECK (%s IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it in a later file, then SET NOT NULL (no scan) and drop the check",
		t.Name, c.Name, c.Name, c.Name), nil
}
