package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/jackc/pgx/v5"
)

// RevisionSchema is where the Atlas CLI keeps its revision table when the
// database URL names no search_path schema; this package does the same so
// that `atlas migrate status` and `accounts migrate status` read one table.
const RevisionSchema = "atlas_schema_revisions"

// RevisionSchemaOf returns the schema that holds the revision table for a
// database URL, by the Atlas CLI's rule: the schema the URL binds with
// search_path, else RevisionSchema. Using the same rule keeps both tools on
// one table whichever URL a team uses.
func RevisionSchemaOf(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return RevisionSchema
	}
	if sp := strings.TrimSpace(strings.Split(u.Query().Get("search_path"), ",")[0]); sp != "" {
		return strings.Trim(sp, `"`)
	}
	return RevisionSchema
}

// RevisionTableName is the name of the revision table inside its schema.
const RevisionTableName = "atlas_schema_revisions"

// cloudIdentifier is a row the Atlas CLI may add to hold the table's id; it
// is not a migration and every reader skips it.
const cloudIdentifier = ".atlas_cloud_identifier"

// execQuerier is what the revision table needs from a connection: a
// *sql.DB, *sql.Conn or *sql.Tx all qualify.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// RevisionTable implements Atlas's migrate.RevisionReadWriter on the table
// the Atlas CLI itself uses (same DDL, type codes, hashes, nanosecond
// execution times), so a database migrated by either tool reads as up to
// date to the other.
type RevisionTable struct {
	conn   execQuerier
	schema string
}

var _ atlasmigrate.RevisionReadWriter = (*RevisionTable)(nil)

// NewRevisionTable returns the revision table in schema (RevisionSchema when
// empty) reached through conn. It does not create the table: see Ensure.
func NewRevisionTable(conn execQuerier, schema string) *RevisionTable {
	if schema == "" {
		schema = RevisionSchema
	}
	return &RevisionTable{conn: conn, schema: schema}
}

func (r *RevisionTable) qualified() string {
	return quoteIdent(r.schema) + "." + quoteIdent(RevisionTableName)
}

// Ensure creates the schema and the table when they are missing, with the
// DDL the Atlas CLI uses. Callers hold the migration lock, so concurrent
// appliers never race on the CREATE.
func (r *RevisionTable) Ensure(ctx context.Context) error {
	for _, s := range r.ddl() {
		if _, err := r.conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create revision table %s: %w", r.qualified(), err)
		}
	}
	return nil
}

// ddl creates the schema and the table when they are missing, as the Atlas
// CLI creates them.
func (r *RevisionTable) ddl() []string {
	return []string{
		"CREATE SCHEMA IF NOT EXISTS " + quoteIdent(r.schema),
		"CREATE TABLE IF NOT EXISTS " + r.qualified() + ` (
    "version" character varying NOT NULL,
    "description" character varying NOT NULL,
    "type" bigint NOT NULL DEFAULT 2,
    "applied" bigint NOT NULL DEFAULT 0,
    "total" bigint NOT NULL DEFAULT 0,
    "executed_at" timestamptz NOT NULL,
    "execution_time" bigint NOT NULL,
    "error" text NULL,
    "error_stmt" text NULL,
    "hash" character varying NOT NULL,
    "partial_hashes" jsonb NULL,
    "operator_version" character varying NOT NULL,
    PRIMARY KEY ("version")
)`,
	}
}

// Exists reports whether the revision table exists.
func (r *RevisionTable) Exists(ctx context.Context) (bool, error) {
	var name sql.NullString
	if err := r.conn.QueryRowContext(ctx, "SELECT to_regclass($1)::text", r.qualified()).Scan(&name); err != nil {
		return false, fmt.Errorf("look for revision table %s: %w", r.qualified(), err)
	}
	return name.Valid, nil
}

// Ident implements migrate.RevisionReadWriter.
func (r *RevisionTable) Ident() *atlasmigrate.TableIdent {
	return &atlasmigrate.TableIdent{Name: RevisionTableName, Schema: r.schema}
}

const revisionColumns = `"version", "description", "type", "applied", "total", "executed_at",
 "execution_time", "error", "error_stmt", "hash", "partial_hashes", "operator_version"`

// ReadRevisions implements migrate.RevisionReadWriter: every revision in
// version order. A database without the table has no revisions.
func (r *RevisionTable) ReadRevisions(ctx context.Context) ([]*atlasmigrate.Revision, error) {
	ok, err := r.Exists(ctx)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := r.conn.QueryContext(ctx,
		"SELECT "+revisionColumns+" FROM "+r.qualified()+` WHERE "version" <> $1 ORDER BY "version"`, cloudIdentifier)
	if err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err() reports a failed read
	var revs []*atlasmigrate.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, err
		}
		revs = append(revs, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	return revs, nil
}

// ReadRevision implements migrate.RevisionReadWriter. It returns
// migrate.ErrRevisionNotExist when there is no row for version.
func (r *RevisionTable) ReadRevision(ctx context.Context, version string) (*atlasmigrate.Revision, error) {
	if version == cloudIdentifier {
		return nil, errors.New("the revision-table identifier is not a revision")
	}
	ok, err := r.Exists(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, atlasmigrate.ErrRevisionNotExist
	}
	rows, err := r.conn.QueryContext(ctx,
		"SELECT "+revisionColumns+" FROM "+r.qualified()+` WHERE "version" = $1`, version)
	if err != nil {
		return nil, fmt.Errorf("read revision %s: %w", version, err)
	}
	defer func() { _ = rows.Close() }() // rows.Err() reports a failed read
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read revision %s: %w", version, err)
		}
		return nil, atlasmigrate.ErrRevisionNotExist
	}
	rev, err := scanRevision(rows)
	if err != nil {
		return nil, err
	}
	return rev, rows.Close()
}

func scanRevision(rows *sql.Rows) (*atlasmigrate.Revision, error) {
	var (
		rev                  atlasmigrate.Revision
		typ, applied, total  int64
		execTime             int64
		errText, errStmt     sql.NullString
		partial              []byte
		executedAt           time.Time
		version, description string
	)
	if err := rows.Scan(&version, &description, &typ, &applied, &total, &executedAt,
		&execTime, &errText, &errStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
		return nil, fmt.Errorf("scan revision: %w", err)
	}
	rev.Version, rev.Description = version, description
	rev.Type = atlasmigrate.RevisionType(typ)
	rev.Applied, rev.Total = int(applied), int(total)
	rev.ExecutedAt = executedAt
	rev.ExecutionTime = time.Duration(execTime)
	rev.Error, rev.ErrorStmt = errText.String, errStmt.String
	if len(partial) > 0 {
		if err := json.Unmarshal(partial, &rev.PartialHashes); err != nil {
			return nil, fmt.Errorf("revision %s: partial_hashes is not a JSON array of strings: %w", version, err)
		}
	}
	return &rev, nil
}

// revisionUpsert ends the INSERT of a revision: like the Atlas CLI, an
// update keeps the first description and executed_at.
const revisionUpsert = `ON CONFLICT ("version") DO UPDATE SET
 "type" = EXCLUDED."type", "applied" = EXCLUDED."applied", "total" = EXCLUDED."total",
 "execution_time" = EXCLUDED."execution_time", "error" = EXCLUDED."error",
 "error_stmt" = EXCLUDED."error_stmt", "hash" = EXCLUDED."hash",
 "partial_hashes" = EXCLUDED."partial_hashes", "operator_version" = EXCLUDED."operator_version"`

// WriteRevision implements migrate.RevisionReadWriter as an upsert. Like the
// Atlas CLI, an update keeps the first description and executed_at.
func (r *RevisionTable) WriteRevision(ctx context.Context, rev *atlasmigrate.Revision) error {
	if rev.Version == cloudIdentifier {
		return errors.New("writing the revision-table identifier is not allowed")
	}
	// The Atlas CLI stores a nil slice as the JSON literal null, not SQL NULL.
	partial, err := json.Marshal(rev.PartialHashes)
	if err != nil {
		return err
	}
	_, err = r.conn.ExecContext(ctx, "INSERT INTO "+r.qualified()+" ("+revisionColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
`+revisionUpsert,
		rev.Version, rev.Description, int64(rev.Type), int64(rev.Applied), int64(rev.Total),
		rev.ExecutedAt, int64(rev.ExecutionTime), rev.Error, rev.ErrorStmt, rev.Hash,
		string(partial), rev.OperatorVersion)
	if err != nil {
		return fmt.Errorf("write revision %s: %w", rev.Version, err)
	}
	return nil
}

// DeleteRevision implements migrate.RevisionReadWriter.
func (r *RevisionTable) DeleteRevision(ctx context.Context, version string) error {
	if version == cloudIdentifier {
		return errors.New("deleting the revision-table identifier is not allowed")
	}
	if _, err := r.conn.ExecContext(ctx, "DELETE FROM "+r.qualified()+` WHERE "version" = $1`, version); err != nil {
		return fmt.Errorf("delete revision %s: %w", version, err)
	}
	return nil
}

// quoteIdent quotes a PostgreSQL identifier, by pgx's rules
// (pgx.Identifier.Sanitize), so that identifiers are quoted one way
// throughout.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
