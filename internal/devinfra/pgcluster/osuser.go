package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// osUser is the unprivileged system user that runs the server when we are root.
type osUser struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

func (u *osUser) inGroup(gid uint32) bool {
	return gid == u.gid || slices.Contains(u.groups, gid)
}

// setServerUser picks the system user the server runs as when the caller
// is root (PostgreSQL refuses to run as root) and checks that it can reach
// the data directory; as anyone else the server runs as the caller.
func (c *Cluster) setServerUser(name string) error {
	if !isRoot() {
		return nil
	}
	if name == "" {
		name = "postgres"
	}
	u, err := lookupOSUser(name)
	if err != nil {
		return err
	}
	c.user = u
	return c.checkReachable(filepath.Dir(c.dataDir), c.dataDir)
}

func lookupOSUser(name string) (*osUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root, which PostgreSQL refuses, and there is no %q system user to run the server as (%v): "+
			"install the postgresql package (it creates that user), create it with `useradd --system --create-home --home-dir /var/lib/postgresql postgres`, "+
			"or run as a normal user", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgcluster: user %s: %w", name, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("pgcluster: user %s has uid 0, and PostgreSQL refuses to run as root", name)
	}
	a := &osUser{name: name, uid: uint32(uid), gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	return a, nil
}

// command prepares a server program to run as the unprivileged account when
// we are root. The working directory is / because initdb and pg_ctl resolve
// the current directory and fail when the server account cannot reach ours.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Dir = "/"
	cmd.Env = childEnv()
	// pg_ctl's children redirect their output to the log, but a stray
	// inherited pipe must not make us wait forever.
	cmd.WaitDelay = 5 * time.Second
	if c.user != nil {
		runAs(cmd, c.user)
	}
	return cmd
}

// childEnv drops libpq and server variables such as PGPORT or PGDATA from
// the inherited environment, which would otherwise override our settings in
// surprising ways.
func childEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG")
	})
}

func (c *Cluster) chown(path string) error {
	if c.user == nil {
		return nil
	}
	if err := os.Lchown(path, int(c.user.uid), int(c.user.gid)); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// checkReachable makes sure the server account can enter every folder
// from the root down to dir, the data directory's parent. It changes no
// permission: opening a private folder (t.TempDir is 0700, so is /root)
// to other accounts is the owner's decision, not a side effect of
// starting a database.
func (c *Cluster) checkReachable(dir, dataDir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if !canTraverse(fi, c.user) {
			return fmt.Errorf("pgcluster: the %s account, which runs PostgreSQL because PostgreSQL refuses to run as root, cannot enter %s (mode %v) "+
				"on the way to the data directory %s, and pgcluster changes no permission outside its data directory: "+
				"put the data directory where %s can reach it (dev.data_dir, under /var/tmp for one), or run as a normal user",
				c.user.name, d, fi.Mode().Perm(), dataDir, c.user.name)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// ensureOwned hands a data directory over to the server account when it
// belongs to someone else, e.g. after a copy made as root; the server refuses
// to use a data directory it does not own.
func (c *Cluster) ensureOwned() error {
	if c.user == nil {
		return nil
	}
	fi, err := os.Stat(c.dataDir)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if uid, ok := fileOwner(fi); !ok || uid == c.user.uid {
		return nil
	}
	c.logger.Warn("changing owner of data directory", "user", c.user.name)
	return filepath.WalkDir(c.dataDir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return c.chown(path)
	})
}
