package pgcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Who may connect. Over the unix socket, whose folder only the server's
// account may enter (0700), the cluster trusts the connecting account;
// over TCP, where every account of the machine reaches 127.0.0.1, it asks
// the superuser's password, which Start generates once per data directory
// and keeps there (passwordName, 0600) for URL. The rules are written at
// every start, so data directories made by earlier versions, whose
// pg_hba.conf trusted 127.0.0.1, are locked down too.
const (
	passwordName = "pgcluster.password"
	hbaName      = "pgcluster_hba.conf"
	hbaRules     = `# Written by accounts/internal/devinfra/pgcluster at every start; edits are lost.
local all         all                trust
local replication all                trust
host  all         all 127.0.0.1/32   scram-sha-256
host  replication all 127.0.0.1/32   scram-sha-256
`
)

// loadPassword reads the superuser's password from the data directory,
// generating it when there is none yet.
func (c *Cluster) loadPassword() error {
	path := filepath.Join(c.dataDir, passwordName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(strings.TrimSpace(string(b))) > 0:
		c.password = strings.TrimSpace(string(b))
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("pgcluster: %w", err)
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails on supported platforms.
	c.password = hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(c.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return c.chown(path)
}

// writeHBA writes the connection rules the generated configuration points
// hba_file at.
func (c *Cluster) writeHBA() (string, error) {
	path := filepath.Join(c.dataDir, hbaName)
	if err := os.WriteFile(path, []byte(hbaRules), 0o600); err != nil {
		return "", fmt.Errorf("pgcluster: %w", err)
	}
	return path, c.chown(path)
}

// setPassword gives the superuser the data directory's password, over the
// socket. A standby is read-only and has its primary's role and password
// already (pg_basebackup copied the file with the rest).
func (c *Cluster) setPassword(ctx context.Context) error {
	cfg, err := pgx.ParseConfig("sslmode=disable dbname=postgres user=postgres")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port = c.socketDir, uint16(c.port)
	cfg.ConnectTimeout = 5 * time.Second
	var conn *pgx.Conn
	for {
		if conn, err = pgx.ConnectConfig(ctx, cfg); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect over the socket in %s: %w", c.socketDir, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }() // done with it either way
	var standby bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil || standby {
		return err
	}
	// A utility statement takes no parameters; the password is hex.
	_, err = conn.Exec(ctx, "ALTER ROLE postgres PASSWORD '"+c.password+"'")
	return err
}

// ThrowawayParent makes a fresh folder under os.TempDir that any account
// may enter, to hold the data directory of a throwaway cluster (a test's):
// run as root, the server's account must reach it, and pgcluster opens no
// folder above a data directory itself. The caller removes it.
func ThrowawayParent() (string, error) {
	// Not "pgcluster-": that names the socket folders Stop removes.
	dir, err := os.MkdirTemp("", "throwaway-cluster-")
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}
