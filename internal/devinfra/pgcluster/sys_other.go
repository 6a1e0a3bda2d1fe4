//go:build !unix

package pgcluster

import (
	"context"
	"errors"
	"io/fs"
	"os/exec"
)

// On systems without Unix process credentials the package still compiles so
// that commands importing it build everywhere, but it never runs as another
// user and cannot coordinate concurrent starts.

func isRoot() bool { return false }

func runAs(*exec.Cmd, *osUser) {}

func lockFile(context.Context, string) (func(), error) {
	return nil, errors.New("pgcluster: not supported on this operating system")
}

func processAlive(int) bool { return false }

func processIsPostgres(int) bool { return false }

func fileOwner(fs.FileInfo) (uint32, bool) { return 0, false }

func canTraverse(fs.FileInfo, *osUser) bool { return true }
