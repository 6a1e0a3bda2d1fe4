// Package pgcluster starts and reuses a private PostgreSQL cluster built from
// the server binaries installed on the machine. It lets `accounts dev` and the
// test harness run against a real database on a machine where nothing is
// configured, without Docker and without downloading anything.
//
// The cluster listens only on 127.0.0.1, where it asks the superuser's
// password (generated per data directory, in URL), and on a unix socket in
// a folder only the server's account may enter, where it trusts the
// account (access.go).
//
// The files hold one concern each: this one the options and the cluster,
// lifecycle.go starting, attaching to and stopping the server, conf.go the
// configuration files, port and socket directory, osuser.go the system user
// the server runs as when the caller is root, binaries.go finding the
// server's programs, database.go the databases on it.
package pgcluster

import (
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Names of the files this package keeps inside the data directory, next to
// PostgreSQL's own.
const (
	confName      = "pgcluster.conf" // regenerated on every start, included from postgresql.conf
	logName       = "server.log"
	socketDirName = "socket"
	includeLine   = "include_if_exists = '" + confName + "'"
)

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
	user         *osUser // set when running as root
	logger       *slog.Logger
	// password is the superuser's over TCP (access.go).
	password string
}

// URL returns a connection URL for the superuser postgres on the TCP port,
// with the password Start generated for the data directory (access.go).
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("postgres", c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Password returns the superuser's password over TCP, which URL carries,
// for callers that build a URL of their own (several hosts, say). A
// standby has its primary's.
func (c *Cluster) Password() string { return c.password }

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
