package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"accounts/internal/account"
	"accounts/internal/database"
	"accounts/internal/service"
)

// userPasswordEnv holds the password of `users set-password` for
// automation, where no one types it on stdin.
const userPasswordEnv = "ACCOUNTS_USER_PASSWORD"

// breakGlassCommands are the users subcommands for an incident: they act
// on any user, super admins included, with the trust of whoever reaches
// the database with the service's configuration, through the same domain
// code as the API, and each change is recorded in the audit trail with
// the operator's OS user and host.
func (a *app) breakGlassCommands() []*cobra.Command {
	return []*cobra.Command{
		a.usersListCommand(),
		a.usersSetPasswordCommand(),
		a.usersSetActiveCommand("deactivate", false),
		a.usersSetActiveCommand("activate", true),
		a.usersRevokeSessionsCommand(),
		a.usersSetRoleCommand(),
	}
}

// withOperator is the preamble of every break-glass command: it runs fn
// with the domain's operator on withUsers' service and describes its error.
func (a *app) withOperator(cmd *cobra.Command, fn func(ctx context.Context, op *account.Operator) error) error {
	return a.withUsers(cmd, func(ctx context.Context, users *account.Users) error {
		return describe(fn(ctx, users.Operator()))
	})
}

// withUsers opens the database and the hasher, marks the context with the
// operator for the audit trail, and runs fn with the account service: the
// preamble of every users command that changes an account.
func (a *app) withUsers(cmd *cobra.Command, fn func(ctx context.Context, users *account.Users) error) error {
	ctx := account.WithOrigin(cmd.Context(), account.Origin{Operator: operatorName()})
	// A database that does not exist or refuses the credentials will not
	// answer later either: say what to fix rather than "try again".
	if err := database.Check(ctx, a.cfg.Database.ConnString(), a.cfg.Database.PoolTimeout); err != nil {
		return err
	}
	db, err := database.Open(ctx, a.cfg.Database, a.log)
	if err != nil {
		return err
	}
	defer db.Close()
	hasher, err := service.NewHasher(a.cfg.Password, nil)
	if err != nil {
		return err
	}
	return fn(ctx, account.NewUsers(db, hasher))
}

// operatorName is who runs the command line: OS user@host.
func operatorName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}

func usernameFlag(cmd *cobra.Command, username *string) {
	cmd.Flags().StringVar(username, "username", "", "the user's username, in any letter case (required)")
	_ = cmd.MarkFlagRequired("username")
}

func (a *app) usersListCommand() *cobra.Command {
	var role string
	var inactive, asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users: id, username, role, active, created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var f account.ListFilter
			if role != "" {
				r := account.Role(role)
				if !r.Valid() {
					return fmt.Errorf("--role must be user, admin or super_admin, got %q", role)
				}
				f.Role = &r
			}
			f.InactiveOnly = inactive
			return a.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
				users, err := op.List(ctx, f)
				if err != nil {
					return err
				}
				return a.printUsers(cmd, users, asJSON)
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "only users with this role: user, admin or super_admin")
	cmd.Flags().BoolVar(&inactive, "inactive", false, "only deactivated users")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

func (a *app) printUsers(cmd *cobra.Command, users []account.User, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		// account.User as the API shows it: every field, a new one included.
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(users)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tACTIVE\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", u.ID, u.Username, u.Role, u.IsActive, u.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func (a *app) usersSetPasswordCommand() *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:   "set-password --username NAME",
		Short: "Set a user's password and end all of the user's sessions",
		Long: "Set a user's password (super admins included) and end all of the user's sessions. The password is read from " +
			userPasswordEnv + " when it is set, otherwise from the first line of standard input; it must satisfy the same rules as in the API.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := a.readPassword(cmd.InOrStdin(), userPasswordEnv)
			if err != nil {
				return err
			}
			return a.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
				c, err := op.SetPassword(ctx, username, pw)
				if err != nil {
					return err
				}
				return a.printChange(cmd, "set the password of", c)
			})
		},
	}
	usernameFlag(cmd, &username)
	return cmd
}

func (a *app) usersSetActiveCommand(verb string, active bool) *cobra.Command {
	var username string
	var force bool
	cmd := &cobra.Command{
		Use:   verb + " --username NAME",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a user (super admins included) and end all of the user's sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
				c, err := op.SetActive(ctx, username, active, force)
				if err != nil {
					return withForceHint(err)
				}
				return a.printChange(cmd, verb+"d", c)
			})
		},
	}
	usernameFlag(cmd, &username)
	if !active {
		cmd.Flags().BoolVar(&force, "force", false, "deactivate even the last active super admin")
	}
	return cmd
}

func (a *app) usersRevokeSessionsCommand() *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:   "revoke-sessions --username NAME",
		Short: "End all of a user's sessions (log the user out everywhere)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
				c, err := op.RevokeSessions(ctx, username)
				if err != nil {
					return err
				}
				c.Changed = true // the sessions, if any, are what it acts on
				return a.printChange(cmd, "revoked the sessions of", c)
			})
		},
	}
	usernameFlag(cmd, &username)
	return cmd
}

func (a *app) usersSetRoleCommand() *cobra.Command {
	var username string
	var force bool
	cmd := &cobra.Command{
		Use:   "set-role --username NAME ROLE",
		Short: "Give a user the role user, admin or super_admin (demoting a super admin included)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			role := account.Role(args[0])
			if !role.Valid() {
				return fmt.Errorf("ROLE must be user, admin or super_admin, got %q", args[0])
			}
			return a.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
				c, err := op.SetRole(ctx, username, role, force)
				if err != nil {
					return withForceHint(err)
				}
				return a.printChange(cmd, "changed the role of", c)
			})
		},
	}
	usernameFlag(cmd, &username)
	cmd.Flags().BoolVar(&force, "force", false, "demote even the last active super admin")
	return cmd
}

// withForceHint adds what to do to the last-super-admin refusal.
func withForceHint(err error) error {
	if account.ErrorCode(err) == account.CodeForbidden {
		return fmt.Errorf("%s (rerun with --force to do it anyway)", describe(err))
	}
	return err
}

// printChange says what a command changed, or that nothing did.
func (a *app) printChange(cmd *cobra.Command, what string, c account.Change) error {
	out := cmd.OutOrStdout()
	u := c.Before
	if !c.Changed {
		_, err := fmt.Fprintf(out, "nothing changed: %s (id %s) is already %s, %s\n", u.Username, u.ID, c.After.Role, activeWord(c.After.IsActive))
		return err
	}
	fmt.Fprintf(out, "%s %s (id %s)\n", what, u.Username, u.ID)
	if c.Before.Role != c.After.Role {
		fmt.Fprintf(out, "  role: %s -> %s\n", c.Before.Role, c.After.Role)
	}
	if c.Before.IsActive != c.After.IsActive {
		fmt.Fprintf(out, "  state: %s -> %s\n", activeWord(c.Before.IsActive), activeWord(c.After.IsActive))
	}
	_, err := fmt.Fprintf(out, "  sessions ended: %d\n", c.SessionsEnded)
	return err
}

func activeWord(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}
