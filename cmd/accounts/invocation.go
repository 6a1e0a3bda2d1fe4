package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// invocation is how to run this binary again, for the commands the tool
// advises ("run `accounts migrate hash`"): `accounts` when that name on
// PATH is this binary (the image, an installed copy), `go run
// ./cmd/accounts` under go run (make migrate-diff), otherwise the path it
// was started by (bin/accounts after make build and in make run).
func invocation(arg0 string) string {
	if strings.Contains(arg0, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/accounts"
	}
	if !strings.ContainsRune(arg0, filepath.Separator) {
		return "accounts"
	}
	if p, err := exec.LookPath("accounts"); err == nil && sameFile(p, arg0) {
		return "accounts"
	}
	return arg0
}

func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// advise names the CLI in the advice of a message as the user can run it:
// every "`accounts …`" becomes "`<invocation> …`".
func advise(msg, cli string) string {
	if cli == "accounts" {
		return msg
	}
	return strings.ReplaceAll(msg, "`accounts ", "`"+cli+" ")
}

// advisedError is an error whose advice names the CLI as invoked; it
// unwraps to the error it rewrites.
type advisedError struct {
	err error
	cli string
}

func (e *advisedError) Error() string { return advise(e.err.Error(), e.cli) }
func (e *advisedError) Unwrap() error { return e.err }

func adviseError(err error, cli string) error {
	var already *advisedError
	if err == nil || cli == "accounts" || errors.As(err, &already) {
		return err
	}
	return &advisedError{err: err, cli: cli}
}
