package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes EnsureDatabase reacts to.
const (
	codeInvalidCatalogName = "3D000" // the maintenance database is missing
	codeDuplicateDatabase  = "42P04" // another client created it first
	codeObjectInUse        = "55006" // template1 busy with a concurrent CREATE DATABASE
)

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1. Longer names are silently
// truncated by the server, so the existence check would never match them.
const maxIdentifierLen = 63

// EnsureDatabase creates the database name on the server serverURL points at,
// unless it exists, and reports whether it created it. It connects to the
// server's postgres maintenance database (template1 where that is missing),
// so the database serverURL names need not exist yet. It works on any server
// where the URL's user may create databases, and tolerates other clients
// creating the same database at the same time.
func EnsureDatabase(ctx context.Context, serverURL, name string) (created bool, err error) {
	if name == "" || strings.ContainsRune(name, 0) || len(name) > maxIdentifierLen {
		return false, fmt.Errorf("pgcluster: invalid database name %q: it must be 1 to %d bytes without NUL", name, maxIdentifierLen)
	}
	cfg, err := pgx.ParseConfig(serverURL)
	if err != nil {
		return false, fmt.Errorf("pgcluster: %w", err)
	}
	server := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)

	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if hasCode(err, codeInvalidCatalogName) {
		cfg.Database = "template1"
		conn, err = pgx.ConnectConfig(ctx, cfg)
	}
	if err != nil {
		return false, fmt.Errorf("pgcluster: connect to %s to create database %q: %w", server, name, err)
	}
	// CREATE DATABASE commits on its own; closing after it loses nothing.
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	for attempt := 1; ; attempt++ {
		var exists bool
		err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
		if err != nil {
			return false, fmt.Errorf("pgcluster: look up database %q on %s: %w", name, server, err)
		}
		if exists {
			return false, nil
		}
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		switch {
		case err == nil:
			return true, nil
		case hasCode(err, codeDuplicateDatabase):
			return false, nil
		case hasCode(err, codeObjectInUse) && attempt < 10:
			// CREATE DATABASE copies template1 and fails while another session
			// is connected to it, which parallel test packages provoke.
			select {
			case <-ctx.Done():
				return false, fmt.Errorf("pgcluster: create database %q on %s: %w", name, server, err)
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		default:
			return false, fmt.Errorf("pgcluster: create database %q on %s: %w", name, server, err)
		}
	}
}

func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
