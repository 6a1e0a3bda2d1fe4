package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// StartStandby copies c into o.DataDir with pg_basebackup -R, which makes
// the copy a streaming standby of c (standby.signal, and primary_conninfo
// pointing at c's socket and port), and starts it with o. The standby accepts
// read-only connections; Promote makes it a primary. o.DataDir must not
// exist or be empty. It is how tests build a replicated pair to fail over.
func (c *Cluster) StartStandby(ctx context.Context, o Options) (*Cluster, error) {
	if o.DataDir == "" {
		return nil, errors.New("pgcluster: Options.DataDir is required")
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("pgcluster: %s is not empty; a standby needs an empty data directory", dataDir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	// Folders made on the way are open to the server's account; the
	// data directory is its alone.
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if c.user != nil {
		if err := c.checkReachable(filepath.Dir(dataDir), dataDir); err != nil {
			return nil, err
		}
	}
	if err := c.chown(dataDir); err != nil {
		return nil, err
	}
	// A fast checkpoint starts the copy at once instead of after a spread
	// one; --no-sync matches the throwaway clusters this is for.
	// Over the socket, which needs no password: primary_conninfo then
	// names the socket too, and the copy brings the primary's password
	// file along.
	args := []string{"-D", dataDir, "-h", c.socketDir, "-p", strconv.Itoa(c.port), "-U", "postgres",
		"-R", "-X", "stream", "-c", "fast", "--no-sync"}
	began := time.Now()
	if out, err := c.command(ctx, "pg_basebackup", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgcluster: pg_basebackup of 127.0.0.1:%d into %s: %w: %s", c.port, dataDir, err, bytes.TrimSpace(out))
	}
	c.logger.Info("copied PostgreSQL for a standby", "into", dataDir, "took", time.Since(began).Round(time.Millisecond))
	o.DataDir = dataDir
	if len(o.SearchDirs) == 0 {
		o.SearchDirs = []string{c.binDir}
	}
	return Start(ctx, o)
}

// Promote makes a standby the primary (pg_ctl promote) and waits until it
// accepts writes.
func (c *Cluster) Promote(ctx context.Context) error {
	out, err := c.command(ctx, "pg_ctl", "promote", "-D", c.dataDir, "-w", "-t", waitSeconds(ctx, time.Minute), "-s").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: pg_ctl promote: %w: %s", err, bytes.TrimSpace(out))
	}
	c.logger.Info("promoted PostgreSQL", "port", c.port)
	return nil
}

// Crash stops the server with pg_ctl's immediate mode: every process exits
// at once, without a checkpoint and without telling clients, as when the
// machine of a primary fails.
func (c *Cluster) Crash(ctx context.Context) error {
	out, err := c.command(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "immediate", "-w", "-t", waitSeconds(ctx, time.Minute), "-s").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: pg_ctl stop -m immediate: %w: %s", err, bytes.TrimSpace(out))
	}
	c.removeOwnSocketDir()
	return nil
}
