// Package cli holds the command groups of the accounts binary that act on
// the database from the command line: migrate, users, audit and config.
// Each group is a struct holding its configuration and flag values, with
// one runX method per subcommand, and a constructor that returns its
// *cobra.Command; cmd/accounts lists them in one place, as pebble's tool
// package does. The service itself (serve, dev) is internal/service.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"accounts/internal/account"
	"accounts/internal/config"
)

// Env is what every command group shares: the process's environment and
// output, and the configuration the root command loads once, before any
// command runs (its preamble sets Config and Log).
type Env struct {
	Getenv func(string) string
	Stdout io.Writer
	// Version is the binary's version, recorded in the revision table as
	// the operator of the migrations it applies.
	Version string
	// CLI is how the user runs the binary (`accounts`, `bin/accounts`,
	// `go run ./cmd/accounts`), named in the commands a message advises.
	CLI    string
	Config *config.Config
	Log    *slog.Logger
}

// advise is msg with its advice named as the user runs the binary.
func (e *Env) advise(msg string) string { return Advise(msg, e.CLI) }

// Advise names the CLI in the advice of a message as the user can run it:
// every "`accounts …`" becomes "`<cli> …`". An empty cli leaves msg as it
// is.
func Advise(msg, cli string) string {
	if cli == "" || cli == "accounts" {
		return msg
	}
	return strings.ReplaceAll(msg, "`accounts ", "`"+cli+" ")
}

// describe turns a service error into a message for the terminal.
func describe(err error) error {
	var e *account.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := e.Message
	for _, f := range e.Fields {
		msg += "; " + f.Field + " " + f.Message
	}
	if e.Code == account.CodeServiceUnavailable {
		return fmt.Errorf("%s: %w", msg, e.Unwrap())
	}
	return errors.New(msg)
}

// printer writes to w and keeps the first error, so that a printer
// reports a failed write (a closed stdout) once, at the end.
type printer struct {
	w   io.Writer
	err error
}

// f writes like fmt.Fprintf unless a write failed already.
func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
