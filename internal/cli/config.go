package cli

import "github.com/spf13/cobra"

// NewConfig returns `accounts config`: the configuration as loaded.
func NewConfig(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration, with the source of each value and secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return env.Config.Show(env.Stdout)
		},
	})
	return cmd
}
