package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"accounts/internal/account"
)

// breakGlassCommands are the users subcommands for an incident.
func (u *users) breakGlassCommands() []*cobra.Command {
	setPassword := &cobra.Command{
		Use:   "set-password --username NAME",
		Short: "Set a user's password and end all of the user's sessions",
		Long: "Set a user's password (super admins included) and end all of the user's sessions. The password is read from " +
			UserPasswordEnv + " when it is set, otherwise from the first line of standard input; it must satisfy the same rules as in the API.",
		Args: cobra.NoArgs,
		RunE: u.runSetPassword,
	}
	deactivate := u.setActiveCommand("deactivate", false)
	deactivate.Flags().BoolVar(&u.force, "force", false, "deactivate even the last active super admin")
	revoke := &cobra.Command{
		Use:   "revoke-sessions --username NAME",
		Short: "End all of a user's sessions (log the user out everywhere)",
		Args:  cobra.NoArgs,
		RunE:  u.runRevokeSessions,
	}
	setRole := &cobra.Command{
		Use:   "set-role --username NAME ROLE",
		Short: "Give a user the role user, admin or super_admin (demoting a super admin included)",
		Args:  cobra.ExactArgs(1),
		RunE:  u.runSetRole,
	}
	setRole.Flags().BoolVar(&u.force, "force", false, "demote even the last active super admin")
	erase := &cobra.Command{
		Use:   "erase --username NAME",
		Short: "Remove a deactivated user and its sessions from the database for good",
		Long: "Remove a deactivated user (deactivate it first) and its sessions from the database. The audit trail " +
			"records the erasure with the user's id and no personal data; the username becomes free again.",
		Args: cobra.NoArgs,
		RunE: u.runErase,
	}
	unthrottle := &cobra.Command{
		Use:   "unthrottle --username NAME",
		Short: "Clear a user's login budgets, so the user can log in at once after others' failed logins",
		Long: "Clear the throttle counters of a user: failed logins from untrusted clients and from trusted devices, and password " +
			"verifications. set-password and activate do the same. Budgets of client addresses are not the user's and stay.",
		Args: cobra.NoArgs,
		RunE: u.runUnthrottle,
	}
	cmds := []*cobra.Command{setPassword, deactivate, u.setActiveCommand("activate", true), revoke, setRole, erase, unthrottle}
	for _, c := range cmds {
		c.Flags().StringVar(&u.username, "username", "", "the user's username, in any letter case (required)")
		_ = c.MarkFlagRequired("username") // the flag was just defined; it cannot be missing
	}
	return cmds
}

// setActiveCommand is activate or deactivate.
func (u *users) setActiveCommand(verb string, active bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " --username NAME",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a user (super admins included) and end all of the user's sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return u.runSetActive(cmd, verb, active)
		},
	}
}

func (u *users) runSetPassword(cmd *cobra.Command, _ []string) error {
	pw, err := u.readPassword(cmd.InOrStdin(), UserPasswordEnv)
	if err != nil {
		return err
	}
	return u.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
		c, err := op.SetPassword(ctx, u.username, pw)
		if err != nil {
			return err
		}
		return u.printChange(cmd, "set the password of", c)
	})
}

func (u *users) runSetActive(cmd *cobra.Command, verb string, active bool) error {
	return u.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
		c, err := op.SetActive(ctx, u.username, active, u.force)
		if err != nil {
			return withForceHint(err)
		}
		return u.printChange(cmd, verb+"d", c)
	})
}

func (u *users) runRevokeSessions(cmd *cobra.Command, _ []string) error {
	return u.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
		c, err := op.RevokeSessions(ctx, u.username)
		if err != nil {
			return err
		}
		c.Changed = true // the sessions, if any, are what it acts on
		return u.printChange(cmd, "revoked the sessions of", c)
	})
}

func (u *users) runUnthrottle(cmd *cobra.Command, _ []string) error {
	return u.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
		c, err := op.Unthrottle(ctx, u.username)
		if err != nil {
			return err
		}
		p := &printer{w: cmd.OutOrStdout()}
		if !c.Changed {
			p.f("nothing changed: %s (id %s) has no login budget spent\n", c.Before.Username, c.Before.ID)
			return p.err
		}
		p.f("cleared the login budgets of %s (id %s): %d counters\n", c.Before.Username, c.Before.ID, c.CountersCleared)
		return p.err
	})
}

func (u *users) runSetRole(cmd *cobra.Command, args []string) error {
	role := account.Role(args[0])
	if !role.Valid() {
		return fmt.Errorf("ROLE must be user, admin or super_admin, got %q", args[0])
	}
	return u.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
		c, err := op.SetRole(ctx, u.username, role, u.force)
		if err != nil {
			return withForceHint(err)
		}
		return u.printChange(cmd, "changed the role of", c)
	})
}

func (u *users) runErase(cmd *cobra.Command, _ []string) error {
	return u.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
		c, err := op.Erase(ctx, u.username)
		if err != nil {
			return err
		}
		p := &printer{w: cmd.OutOrStdout()}
		p.f("erased %s (id %s)\n  sessions ended: %d\n", c.Before.Username, c.Before.ID, c.SessionsEnded)
		return p.err
	})
}

// withForceHint adds what to do to the last-super-admin refusal.
func withForceHint(err error) error {
	if account.ErrorCode(err) == account.CodeForbidden {
		return fmt.Errorf("%s (rerun with --force to do it anyway)", describe(err))
	}
	return err
}

// printChange says what a command changed, or that nothing did.
func (u *users) printChange(cmd *cobra.Command, what string, c account.Change) error {
	p := &printer{w: cmd.OutOrStdout()}
	b, a := c.Before, c.After
	if !c.Changed {
		p.f("nothing changed: %s (id %s) is already %s, %s\n", b.Username, b.ID, a.Role, activeWord(a.IsActive))
		return p.err
	}
	p.f("%s %s (id %s)\n", what, b.Username, b.ID)
	if b.Role != a.Role {
		p.f("  role: %s -> %s\n", b.Role, a.Role)
	}
	if b.IsActive != a.IsActive {
		p.f("  state: %s -> %s\n", activeWord(b.IsActive), activeWord(a.IsActive))
	}
	p.f("  sessions ended: %d\n", c.SessionsEnded)
	if c.CountersCleared > 0 {
		p.f("  throttle counters cleared: %d\n", c.CountersCleared)
	}
	return p.err
}

// activeWord names the state of is_active.
func activeWord(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}
