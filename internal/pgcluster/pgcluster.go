// Package pgcluster starts and reuses a private PostgreSQL cluster built from
// the server binaries installed on the machine. It lets `accounts dev` and the
// test harness run against a real database on a machine where nothing is
// configured, without Docker and without downloading anything.
//
// The cluster trusts every connection from the local machine and listens only
// on 127.0.0.1 and a unix socket under the data directory, which suits a
// developer machine or a CI runner but not a shared host.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Names of the files this package keeps inside the data directory, next to
// PostgreSQL's own.
const (
	confName      = "pgcluster.conf" // regenerated on every start, included from postgresql.conf
	logName       = "server.log"
	socketDirName = "socket"
	includeLine   = "include_if_exists = '" + confName + "'"
)

// maxSocketPath is the longest socket path that fits sun_path on every
// platform PostgreSQL runs on: 108 bytes on Linux but 104 on macOS and the
// BSDs, minus the terminating NUL.
const maxSocketPath = 103

// maxLogSize is the size past which the server log is set aside at start, so
// a long-lived dev cluster does not grow it forever.
const maxLogSize = 16 << 20

// Options configures Start. Everything the package needs comes from here
// rather than from the environment, so callers decide what is configurable.
type Options struct {
	// DataDir is the cluster's data directory, e.g. ".data/postgres". It is
	// created and initialised when it holds no PG_VERSION and reused
	// otherwise. A lock file named DataDir+".lock" sits next to it.
	DataDir string

	// Port is the TCP port to listen on at 127.0.0.1. Zero reuses the port of
	// the previous run when it is still free and picks a free one otherwise.
	Port int

	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger

	// SearchDirs, when non-nil, replaces the search for the server binaries:
	// only these directories are tried, in order.
	SearchDirs []string

	// SystemUser is the account that runs initdb and the server when the
	// caller is root, because PostgreSQL refuses to run as root. Empty means
	// "postgres".
	SystemUser string

	// StartTimeout bounds the whole of Start, including waiting for another
	// process starting the same data directory; ctx's deadline applies too.
	// Zero means two minutes.
	StartTimeout time.Duration

	// NoSync trades crash safety for speed: initdb skips its final fsync and
	// the server runs with fsync=off. It is meant for throwaway test clusters;
	// data still survives a clean Stop and Start.
	NoSync bool

	// Settings are extra server parameters, such as {"max_connections":
	// "200"}, written to the generated configuration on every start.
	Settings map[string]string
}

// Cluster is a running PostgreSQL server that owns a data directory.
type Cluster struct {
	dataDir      string
	binDir       string
	logPath      string
	socketDir    string
	ownSocketDir bool // a directory under os.TempDir that Stop removes
	port         int
	initialized  bool
	attached     bool
	user         *account // set when running as root
	logger       *slog.Logger
}

// account is the unprivileged user that runs the server when we are root.
type account struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

func (a *account) inGroup(gid uint32) bool {
	return gid == a.gid || slices.Contains(a.groups, gid)
}

// Start makes sure a server is running on o.DataDir and accepting
// connections, and returns it. It initialises the data directory when it is
// new, reuses it otherwise, and attaches to a server that a previous run left
// running instead of failing. Concurrent calls for the same directory, from
// this process or others, are serialised by a lock file.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.DataDir == "" {
		return nil, errors.New("pgcluster: Options.DataDir is required")
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("pgcluster: invalid port %d", o.Port)
	}
	for k := range o.Settings {
		if !settingNameRE.MatchString(k) {
			return nil, fmt.Errorf("pgcluster: invalid setting name %q", k)
		}
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{
		dataDir: dataDir,
		logPath: filepath.Join(dataDir, logName),
		logger:  logger.With("datadir", dataDir),
	}
	parent := filepath.Dir(dataDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	unlock, err := lockFile(ctx, dataDir+".lock")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: lock %s.lock: %w", dataDir, err)
	}
	defer unlock()

	version, err := readVersion(dataDir)
	if err != nil {
		return nil, err
	}
	if c.binDir, err = findBinDir(ctx, o.SearchDirs, version); err != nil {
		return nil, err
	}
	// The root check comes after the search because installing the server
	// packages, which a missing binary calls for, also creates the account.
	if isRoot() {
		name := o.SystemUser
		if name == "" {
			name = "postgres"
		}
		if c.user, err = lookupAccount(name); err != nil {
			return nil, err
		}
	}
	if c.user != nil {
		if err := c.makeTraversable(parent); err != nil {
			return nil, err
		}
	}

	if version == "" {
		if err := c.initdb(ctx, o.NoSync); err != nil {
			return nil, err
		}
	} else {
		if err := c.ensureOwned(); err != nil {
			return nil, err
		}
		attached, err := c.attach(ctx, o.Port)
		if err != nil {
			return nil, err
		}
		if attached {
			return c, nil
		}
	}
	if err := c.start(ctx, o); err != nil {
		return nil, err
	}
	return c, nil
}

// URL returns a connection URL for the superuser postgres on the TCP port,
// which needs no password because the cluster trusts local connections.
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// DataDir returns the absolute path of the data directory.
func (c *Cluster) DataDir() string { return c.dataDir }

// SocketDir returns the directory holding the server's unix socket, for
// tools such as `psql -h`.
func (c *Cluster) SocketDir() string { return c.socketDir }

// Initialized reports whether Start created the data directory with initdb,
// so callers know the database is empty.
func (c *Cluster) Initialized() bool { return c.initialized }

// Attached reports whether Start found the server already running, left over
// from an earlier run or started by another process, rather than starting it.
// Stop stops such a server all the same.
func (c *Cluster) Attached() bool { return c.attached }

// Stop shuts the server down with pg_ctl's fast mode, which rolls back open
// transactions and disconnects clients. Stopping a server that is not running
// is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	unlock, err := lockFile(ctx, c.dataDir+".lock")
	if err != nil {
		return fmt.Errorf("pgcluster: lock %s.lock: %w", c.dataDir, err)
	}
	defer unlock()

	if !c.pidFileExists() {
		c.removeOwnSocketDir()
		return nil
	}
	began := time.Now()
	out, err := c.command(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", waitSeconds(ctx, time.Minute), "-s").CombinedOutput()
	if err != nil {
		if !c.pidFileExists() {
			// Someone else stopped it meanwhile, which is what we wanted.
			c.removeOwnSocketDir()
			return nil
		}
		return fmt.Errorf("pgcluster: pg_ctl stop: %w: %s", err, bytes.TrimSpace(out))
	}
	c.removeOwnSocketDir()
	c.logger.Info("stopped PostgreSQL", "port", c.port, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

func lookupAccount(name string) (*account, error) {
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
	a := &account{name: name, uid: uint32(uid), gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	return a, nil
}

// readVersion returns the major version recorded in the data directory, or
// "" when it has not been initialised.
func readVersion(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pgcluster: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
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

// makeTraversable lets the server account reach the data directory through
// its ancestors. Private temporary directories (t.TempDir creates them 0700)
// and home directories often deny that; only the search bit for others is
// added, which exposes no listing.
func (c *Cluster) makeTraversable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if !canTraverse(fi, c.user) {
			mode := fi.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid) | 0o001
			if err := os.Chmod(d, mode); err != nil {
				return fmt.Errorf("pgcluster: the %s user cannot reach the data directory through %s: %w", c.user.name, d, err)
			}
			c.logger.Warn("made directory searchable by others so the server account can reach its data directory",
				"dir", d, "user", c.user.name)
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

func (c *Cluster) initdb(ctx context.Context, noSync bool) error {
	entries, err := os.ReadDir(c.dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(c.dataDir, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	case err != nil:
		return fmt.Errorf("pgcluster: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("pgcluster: %s is not empty but holds no PG_VERSION, so it is not a PostgreSQL data directory; "+
			"refusing to initialise over it: remove it or choose another data directory", c.dataDir)
	}
	if err := c.chown(c.dataDir); err != nil {
		return err
	}
	args := []string{
		"-D", c.dataDir,
		"--username=postgres",
		"--encoding=UTF8",
		"--locale=C",
		"--auth-local=trust",
		"--auth-host=trust",
	}
	if noSync {
		args = append(args, "--no-sync")
	}
	c.logger.Info("initialising PostgreSQL data directory", "bindir", c.binDir)
	began := time.Now()
	out, err := c.command(ctx, "initdb", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: initdb %s failed: %w\n%s", c.dataDir, err, lastLines(out, 20))
	}
	c.initialized = true
	c.logger.Info("initialised PostgreSQL data directory", "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// attach looks for a server already running on the data directory and, when
// there is one, adopts it. It waits for a server that is still starting or
// stopping to settle, and disregards a postmaster.pid left by a crash.
func (c *Cluster) attach(ctx context.Context, wantPort int) (bool, error) {
	for {
		pf, err := readPidFile(c.dataDir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("pgcluster: %w", err)
		}
		if pf.pid > 0 && !processAlive(pf.pid) {
			// The server removes a stale pid file itself when the PID is gone.
			return false, nil
		}
		if pf.pid > 0 && !processIsPostgres(pf.pid) {
			// The server would refuse to start while the recorded PID is alive,
			// so the stale file has to go.
			c.logger.Warn("removing stale postmaster.pid whose PID belongs to another process", "pid", pf.pid)
			if err := os.Remove(filepath.Join(c.dataDir, "postmaster.pid")); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("pgcluster: %w", err)
			}
			return false, nil
		}
		if pf.ready() {
			c.port, c.socketDir = pf.port, pf.socketDir
			c.ownSocketDir = isOwnTempSocketDir(pf.socketDir)
			if err := c.verifyOwnServer(ctx); err != nil {
				return false, fmt.Errorf("pgcluster: PostgreSQL (PID %d) is running on %s but cannot be used at 127.0.0.1:%d: %w; "+
					"stop it with `%s stop -D %s`", pf.pid, c.dataDir, pf.port, err, filepath.Join(c.binDir, "pg_ctl"), c.dataDir)
			}
			c.attached = true
			if wantPort != 0 && wantPort != c.port {
				c.logger.Warn("PostgreSQL was already running on another port than requested; using it", "port", c.port, "requested", wantPort)
			}
			c.logger.Info("reusing running PostgreSQL", "pid", pf.pid, "port", c.port)
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("pgcluster: PostgreSQL (PID %d) on %s did not become ready (status %q): %w", pf.pid, c.dataDir, pf.status, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// verifyOwnServer checks that the port recorded in postmaster.pid leads to
// the server of this data directory and not to whatever took the port since.
func (c *Cluster) verifyOwnServer(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(c.URL("postgres"))
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var dir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return err
	}
	a, err1 := os.Stat(dir)
	b, err2 := os.Stat(c.dataDir)
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		return fmt.Errorf("the server there serves data directory %s", dir)
	}
	return nil
}

// start launches the server on a stopped data directory and waits until it
// accepts connections.
func (c *Cluster) start(ctx context.Context, o Options) error {
	if err := c.ensureInclude(); err != nil {
		return err
	}
	confPath := filepath.Join(c.dataDir, confName)
	port, err := choosePort(o.Port, rememberedPort(confPath))
	if err != nil {
		return fmt.Errorf("pgcluster: choose a port: %w", err)
	}
	c.port = port
	if err := c.prepareSocketDir(); err != nil {
		return err
	}
	if err := c.writeConf(confPath, o); err != nil {
		return err
	}
	if fi, err := os.Stat(c.logPath); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(c.logPath, c.logPath+".1")
	}

	began := time.Now()
	out, err := c.command(ctx, "pg_ctl", "start", "-D", c.dataDir, "-l", c.logPath, "-w", "-t", waitSeconds(ctx, time.Minute), "-s").CombinedOutput()
	if err == nil {
		err = c.waitReady(ctx)
	} else if msg := bytes.TrimSpace(out); len(msg) > 0 {
		err = fmt.Errorf("pg_ctl start: %w: %s", err, msg)
	}
	if err != nil {
		c.logger.Error("PostgreSQL did not start; see the server log", "log", c.logPath, "port", c.port, "err", err)
		c.abortStart()
		return fmt.Errorf("pgcluster: PostgreSQL did not start on 127.0.0.1:%d: %w\nlast lines of %s:\n%s",
			c.port, err, c.logPath, c.logTail(20))
	}
	c.logger.Info("started PostgreSQL", "port", c.port, "socketdir", c.socketDir, "log", c.logPath,
		"took", time.Since(began).Round(time.Millisecond))
	return nil
}

// ensureInclude hooks the generated configuration into postgresql.conf; it
// checks on every start so that data directories made elsewhere work too.
func (c *Cluster) ensureInclude() error {
	path := filepath.Join(c.dataDir, "postgresql.conf")
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if strings.TrimSpace(line) == includeLine {
			return nil
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Port, addresses and sockets are chosen at each start by accounts/internal/pgcluster.\n%s\n", includeLine)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return c.chown(path)
}

// prepareSocketDir puts the socket under the data directory when the path
// fits in sun_path, and in a fresh directory under os.TempDir otherwise.
func (c *Cluster) prepareSocketDir() error {
	dir := filepath.Join(c.dataDir, socketDirName)
	if len(dir)+len("/.s.PGSQL.")+len(strconv.Itoa(c.port)) > maxSocketPath {
		tmp, err := os.MkdirTemp("", "pgcluster-")
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		c.socketDir, c.ownSocketDir = tmp, true
		c.logger.Info("data directory path too long for a unix socket; using a temporary socket directory", "socketdir", tmp)
		return c.chown(tmp)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	c.socketDir = dir
	return c.chown(dir)
}

func isOwnTempSocketDir(dir string) bool {
	return filepath.Dir(dir) == filepath.Clean(os.TempDir()) && strings.HasPrefix(filepath.Base(dir), "pgcluster-")
}

func (c *Cluster) removeOwnSocketDir() {
	if c.ownSocketDir {
		_ = os.RemoveAll(c.socketDir)
	}
}

var settingNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

func (c *Cluster) writeConf(path string, o Options) error {
	settings := map[string]string{}
	if o.NoSync {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	for k, v := range o.Settings {
		settings[k] = v
	}
	// These come last so that Settings cannot move the server away from
	// where URL points.
	settings["port"] = strconv.Itoa(c.port)
	settings["listen_addresses"] = "127.0.0.1"
	settings["unix_socket_directories"] = c.socketDir

	var b strings.Builder
	b.WriteString("# Written by accounts/internal/pgcluster at every start; edits are lost.\n")
	b.WriteString("# Put lasting settings in postgresql.conf before the include line.\n")
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%s = %s\n", k, quoteConf(settings[k]))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return c.chown(path)
}

// quoteConf quotes a value for postgresql.conf, whose quoted strings treat
// backslashes as escapes as well as doubling single quotes.
func quoteConf(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// rememberedPort returns the port of the previous start, or 0.
func rememberedPort(confPath string) int {
	b, err := os.ReadFile(confPath)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "port" {
			continue
		}
		p, err := strconv.Atoi(strings.Trim(strings.TrimSpace(v), "'"))
		if err == nil && p > 0 && p <= 65535 {
			return p
		}
	}
	return 0
}

// choosePort prefers an explicit port, then the previous run's so URLs stay
// stable across restarts, then any free one.
func choosePort(requested, remembered int) (int, error) {
	if requested != 0 {
		return requested, nil
	}
	if remembered != 0 {
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(remembered))); err == nil {
			l.Close()
			return remembered, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady confirms with a real query that the server accepts connections;
// pg_ctl -w only watches postmaster.pid.
func (c *Cluster) waitReady(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(c.URL("postgres"))
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 2 * time.Second
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			_, err = conn.Exec(ctx, "SELECT 1")
			conn.Close(context.WithoutCancel(ctx))
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server does not accept connections: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// abortStart stops a server that started but is unusable, or is still
// starting when the caller gave up, so it does not linger unnoticed.
func (c *Cluster) abortStart() {
	if c.pidFileExists() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = c.command(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "immediate", "-w", "-s").Run()
	}
	c.removeOwnSocketDir()
}

func (c *Cluster) pidFileExists() bool {
	_, err := os.Stat(filepath.Join(c.dataDir, "postmaster.pid"))
	return err == nil
}

// logTail returns the end of the server log, where start-up failures such as
// a port in use or a bad setting are explained.
func (c *Cluster) logTail(n int) string {
	f, err := os.Open(c.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read server log: %v)", err)
	}
	defer f.Close()
	const window = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		_, _ = f.Seek(-window, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return lastLines(b, n)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitSeconds converts what remains of ctx's deadline into pg_ctl's -t
// argument, so pg_ctl gives up no later than we do.
func waitSeconds(ctx context.Context, fallback time.Duration) string {
	d := fallback
	if deadline, ok := ctx.Deadline(); ok {
		d = time.Until(deadline)
	}
	return strconv.Itoa(max(1, int(d.Seconds())))
}

// pidFile holds the fields of postmaster.pid this package relies on.
type pidFile struct {
	pid       int
	port      int
	socketDir string
	status    string
}

// ready reports whether the server finished starting; a standby counts
// because it accepts read-only connections.
func (p pidFile) ready() bool {
	return p.port > 0 && (p.status == "ready" || p.status == "standby")
}

// readPidFile parses postmaster.pid, whose lines are, in order: PID, data
// directory, start time, port, first socket directory, first listen address,
// shared memory key and status. A file still being written parses with the
// missing fields empty.
func readPidFile(dataDir string) (pidFile, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return pidFile{}, err
	}
	lines := strings.Split(string(b), "\n")
	field := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	var p pidFile
	p.pid, _ = strconv.Atoi(field(0))
	p.port, _ = strconv.Atoi(field(3))
	p.socketDir = field(4)
	p.status = field(7)
	return p, nil
}
