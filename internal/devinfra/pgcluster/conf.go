package pgcluster

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// maxSocketPath is the longest socket path that fits sun_path on every
// platform PostgreSQL runs on: 108 bytes on Linux but 104 on macOS and the
// BSDs, minus the terminating NUL.
const maxSocketPath = 103

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
	_, err = fmt.Fprintf(f, "\n# Port, addresses and sockets are chosen at each start by accounts/internal/devinfra/pgcluster.\n%s\n", includeLine)
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
	hba, err := c.writeHBA()
	if err != nil {
		return err
	}
	settings["hba_file"] = hba

	var b strings.Builder
	b.WriteString("# Written by accounts/internal/devinfra/pgcluster at every start; edits are lost.\n")
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
			_ = l.Close() // only a probe: it accepted nothing
			return remembered, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }() // only a probe: it accepted nothing
	return l.Addr().(*net.TCPAddr).Port, nil
}
