package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serverBinaries are the programs a cluster needs; a directory only counts
// when it holds all of them, because client-only packages ship psql and
// pg_config without a server.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// BinariesNotFoundError reports that no directory holding the PostgreSQL
// server binaries was found, and says what to install.
type BinariesNotFoundError struct {
	// Searched lists the places looked at, as directories or glob patterns.
	Searched []string
	// WantVersion is the major version the data directory was created with,
	// when an existing cluster needs matching binaries; empty otherwise.
	WantVersion string
	// FoundVersions lists the major versions that were found but did not match
	// WantVersion.
	FoundVersions []string
}

// Error returns a message that names the packages to install.
func (e *BinariesNotFoundError) Error() string {
	looked := strings.Join(e.Searched, ", ")
	if e.WantVersion != "" {
		return fmt.Sprintf("no PostgreSQL %[1]s server binaries found (the data directory was created by PostgreSQL %[1]s; found only %[2]s; looked in %[3]s): "+
			"install them with `sudo apt-get install postgresql-%[1]s` (Debian/Ubuntu) or `brew install postgresql@%[1]s` (macOS), "+
			"or remove the data directory to start afresh with the installed version",
			e.WantVersion, strings.Join(e.FoundVersions, ", "), looked)
	}
	return fmt.Sprintf("no PostgreSQL server binaries found (looked in %s): "+
		"install them with `sudo apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql@16` (macOS), "+
		"or start the database with `docker compose up -d`", looked)
}

// FindBinDir returns the directory holding initdb, pg_ctl and postgres, using
// the same search as Start. It lets callers such as a test harness decide
// early whether a private cluster is possible at all.
func FindBinDir(ctx context.Context, o Options) (string, error) {
	return findBinDir(ctx, o.SearchDirs, "")
}

// findBinDir searches the candidate directories in order of preference. When
// wantVersion is set (reusing a data directory), only binaries of that major
// version will do, since a server refuses data files of another major version.
func findBinDir(ctx context.Context, searchDirs []string, wantVersion string) (string, error) {
	candidates, searched := candidateDirs(ctx, searchDirs)
	var found []string
	for _, dir := range candidates {
		if !holdsServer(dir) {
			continue
		}
		if wantVersion == "" {
			return dir, nil
		}
		v, err := binVersion(ctx, dir)
		if err != nil {
			continue
		}
		if v == wantVersion {
			return dir, nil
		}
		if !slices.Contains(found, v) {
			found = append(found, v)
		}
	}
	e := &BinariesNotFoundError{Searched: searched}
	if wantVersion != "" && len(found) > 0 {
		e.WantVersion = wantVersion
		e.FoundVersions = found
	}
	return "", e
}

// candidateDirs lists directories to try, best first, and a human-readable
// description of where it looked for the error message.
func candidateDirs(ctx context.Context, searchDirs []string) (dirs, searched []string) {
	if searchDirs != nil {
		return searchDirs, searchDirs
	}
	add := func(ds ...string) {
		for _, d := range ds {
			d = filepath.Clean(d)
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}

	// pg_config describes the installation its caller builds against, which
	// is the most deliberate choice a user has made, so it goes first.
	searched = append(searched, "`pg_config --bindir`")
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := exec.CommandContext(cctx, pgConfig, "--bindir").Output()
		cancel()
		if err == nil {
			add(strings.TrimSpace(string(out)))
		}
	}
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
		"/usr/pgsql-*/bin",                   // PGDG RPMs (Fedora, RHEL)
		"/opt/homebrew/opt/postgresql@*/bin", // Homebrew, Apple silicon
		"/usr/local/opt/postgresql@*/bin",    // Homebrew, Intel
	} {
		searched = append(searched, pattern)
		add(globNewestFirst(pattern)...)
	}
	for _, d := range []string{"/opt/homebrew/opt/postgresql/bin", "/usr/local/opt/postgresql/bin", "/opt/homebrew/bin"} {
		searched = append(searched, d)
		add(d)
	}
	searched = append(searched, "$PATH")
	if p, err := exec.LookPath("initdb"); err == nil {
		add(filepath.Dir(p))
	}
	return dirs, searched
}

// globNewestFirst expands a pattern with one version wildcard and orders the
// matches by descending version, so that 16 beats 9.6 (which a plain string
// sort would get wrong).
func globNewestFirst(pattern string) []string {
	matches, _ := filepath.Glob(pattern)
	sortNewestFirst(matches)
	return matches
}

var versionRE = regexp.MustCompile(`\d+(\.\d+)*`)

// sortNewestFirst orders paths by the first version number in each, highest
// first.
func sortNewestFirst(paths []string) {
	key := func(p string) []int {
		var v []int
		for _, part := range strings.Split(versionRE.FindString(p), ".") {
			n, _ := strconv.Atoi(part)
			v = append(v, n)
		}
		return v
	}
	slices.SortStableFunc(paths, func(a, b string) int {
		return slices.Compare(key(b), key(a))
	})
}

func holdsServer(dir string) bool {
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// binVersion returns the major version of the binaries in dir in the form
// PG_VERSION uses ("15", or "9.6" before PostgreSQL 10).
func binVersion(ctx context.Context, dir string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, filepath.Join(dir, "pg_ctl"), "--version").Output()
	if err != nil {
		return "", err
	}
	// "pg_ctl (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
	_, after, ok := bytes.Cut(out, []byte(")"))
	if !ok {
		return "", fmt.Errorf("unexpected pg_ctl --version output %q", out)
	}
	return majorVersion(versionRE.FindString(string(after))), nil
}

func majorVersion(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) >= 2 && parts[0] == "9" {
		return parts[0] + "." + parts[1]
	}
	return parts[0]
}
