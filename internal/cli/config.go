package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// NewConfig returns `accounts config`: the configuration as loaded.
func NewConfig(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	show := &cobra.Command{
		Use:   "show [--format text|yaml]",
		Short: "Print the effective configuration, with the source of each value and secrets redacted",
		Long: "Print the effective configuration, with the source of each value and secrets redacted.\n" +
			"--format yaml prints a file that --config accepts (set secrets are left as comments).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch f, _ := cmd.Flags().GetString("format"); f { // defined just below; GetString cannot fail
			case "text":
				return env.Config.Show(env.Stdout)
			case "yaml":
				return env.Config.ShowYAML(env.Stdout)
			default:
				return fmt.Errorf("--format %q: want text or yaml", f)
			}
		},
	}
	show.Flags().String("format", "text", "`text` (key = value, one a line) or yaml (a file for --config)")
	cmd.AddCommand(show)
	return cmd
}
