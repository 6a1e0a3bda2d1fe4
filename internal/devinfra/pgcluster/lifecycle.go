package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// maxLogSize is the size past which the server log is set aside at start, so
// a long-lived dev cluster does not grow it forever.
const maxLogSize = 16 << 20

// Start makes sure a server is running on o.DataDir and accepting
// connections, and returns it. It initialises the data directory when it is
// new, reuses it otherwise, and attaches to a server that a previous run left
// running instead of failing. Concurrent calls for the same directory, from
// this process or others, are serialised by a lock file.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := newCluster(o)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(ctx, c.dataDir+".lock")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: lock %s.lock: %w", c.dataDir, err)
	}
	defer unlock()

	version, err := readVersion(c.dataDir)
	if err != nil {
		return nil, err
	}
	if c.binDir, err = findBinDir(ctx, o.SearchDirs, version); err != nil {
		return nil, err
	}
	// The root check comes after the search because installing the server
	// packages, which a missing binary calls for, also creates the user.
	if err := c.setServerUser(o.SystemUser); err != nil {
		return nil, err
	}
	if version == "" {
		if err := c.initdb(ctx, o.NoSync); err != nil {
			return nil, err
		}
	}
	if err := c.loadPassword(); err != nil {
		return nil, err
	}
	if version != "" {
		attached, err := c.reuse(ctx, o.Port)
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

// check refuses options Start cannot use.
func (o Options) check() error {
	if o.DataDir == "" {
		return errors.New("pgcluster: Options.DataDir is required")
	}
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("pgcluster: invalid port %d", o.Port)
	}
	for k := range o.Settings {
		if !settingNameRE.MatchString(k) {
			return fmt.Errorf("pgcluster: invalid setting name %q", k)
		}
	}
	return nil
}

// newCluster resolves the data directory and creates its parent, where the
// lock file goes.
func newCluster(o Options) (*Cluster, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	return &Cluster{
		dataDir: dataDir,
		logPath: filepath.Join(dataDir, logName),
		logger:  logger.With("datadir", dataDir),
	}, nil
}

// reuse adopts an initialised data directory: it hands it to the server
// user and attaches to its server when one runs (true), else the caller
// starts it.
func (c *Cluster) reuse(ctx context.Context, wantPort int) (attached bool, err error) {
	if err := c.ensureOwned(); err != nil {
		return false, err
	}
	return c.attach(ctx, wantPort)
}

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
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }() // a read-only check
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
		err = c.setPassword(ctx)
	}
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
			_ = conn.Close(context.WithoutCancel(ctx)) // only a probe
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
	defer func() { _ = f.Close() }() // read only
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
