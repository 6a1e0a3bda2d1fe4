package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagArgumentNames walks every command's flags: pflag takes the
// back-quoted words of a usage string as the argument's name, so a quoted
// phrase shows in --help as a name with spaces (`--config accounts config
// show` once). Each name must be one word, and --config's must be FILE.
func TestFlagArgumentNames(t *testing.T) {
	root := (&app{getenv: func(string) string { return "" }}).rootCommand()
	var walk func(*cobra.Command)
	checked := 0
	walk = func(cmd *cobra.Command) {
		check := func(f *pflag.Flag) {
			checked++
			name, _ := pflag.UnquoteUsage(f)
			if strings.ContainsAny(name, " \t") {
				t.Errorf("%s --%s: argument name %q has a space", cmd.CommandPath(), f.Name, name)
			}
		}
		cmd.LocalFlags().VisitAll(check)
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
	if checked < 20 {
		t.Fatalf("checked only %d flags", checked)
	}
	name, _ := pflag.UnquoteUsage(root.PersistentFlags().Lookup("config"))
	if name != "FILE" {
		t.Errorf("--config argument name %q, want FILE", name)
	}
	out, _, err := runCapture(nil, "--help")
	if err != nil || !strings.Contains(out, "--config FILE") {
		t.Errorf("accounts --help: %v\n%s", err, out)
	}
}
