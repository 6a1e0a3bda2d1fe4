package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"accounts/internal/metrics"
	"accounts/internal/migrate"
	"accounts/migrations"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// commit is set at build time with -ldflags "-X main.commit=…" (make build
// and the Dockerfile do); otherwise it is the VCS revision go build
// stamps, when it stamped one.
var commit = ""

// buildInfo is what this binary is: its version and commit, the Go
// release that built it, and the last migration it embeds.
func buildInfo() (metrics.BuildInfo, string) {
	b := metrics.BuildInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if b.Commit == "" {
		b.Commit = "unknown"
		if info, ok := debug.ReadBuildInfo(); ok {
			var rev, modified string
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" {
				b.Commit = rev[:min(len(rev), 12)]
				if modified == "true" {
					b.Commit += "-dirty"
				}
			}
		}
	}
	head := "none"
	if files, err := migrate.NewBuildFiles(&migrate.EmbeddedDir{FS: migrations.FS}); err == nil && files.Head() != "" {
		head = files.Head()
	}
	return b, head
}

// versionText is what `accounts version` and `accounts --version` print.
func versionText() string {
	b, head := buildInfo()
	return fmt.Sprintf("accounts %s\ncommit: %s\ngo: %s\nmigrations: %s (the last file embedded in this binary)\n",
		b.Version, b.Commit, b.GoVersion, head)
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and migration head of this binary",
		Args:  cobra.NoArgs,
		// No configuration is needed to say what the binary is, and a
		// broken one must not hide it.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprint(a.stdout, versionText())
			return err
		},
	}
}
