package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"accounts/internal/account"
	"accounts/internal/database"
	"accounts/internal/service"
)

// The variables that hold a password for automation, where no one types
// it on stdin: the new super admin's, and the one of `users set-password`.
const (
	SuperAdminPasswordEnv = "ACCOUNTS_SUPERADMIN_PASSWORD"
	UserPasswordEnv       = "ACCOUNTS_USER_PASSWORD"
)

// users is `accounts users`. Besides create-superadmin its subcommands
// are for an incident (break glass): they act on any user, super admins
// included, with the trust of whoever reaches the database with the
// service's configuration, through the same domain code as the API, and
// each change is recorded in the audit trail with the operator's OS user
// and host.
type users struct {
	*Env
	username string
	force    bool
	role     string
	inactive bool
	asJSON   bool
}

// NewUsers returns `accounts users` and its subcommands.
func NewUsers(env *Env) *cobra.Command {
	u := &users{Env: env}
	cmd := &cobra.Command{Use: "users", Short: "Manage users from the command line"}
	create := &cobra.Command{
		Use:   "create-superadmin --username NAME",
		Short: "Create a super admin (the API never creates one)",
		Long: "Create a super admin. The password is read from " + SuperAdminPasswordEnv +
			" when it is set, otherwise asked twice, hidden, when standard input is a terminal, otherwise read from the first line of standard input; it must satisfy the same rules as in the API.",
		Args: cobra.NoArgs,
		RunE: u.runCreateSuperAdmin,
	}
	create.Flags().StringVar(&u.username, "username", "", "the new super admin's username (required)")
	_ = create.MarkFlagRequired("username") // the flag was just defined; it cannot be missing
	list := &cobra.Command{
		Use:   "list",
		Short: "List users with every field the API shows of them",
		Args:  cobra.NoArgs,
		RunE:  u.runList,
	}
	list.Flags().StringVar(&u.role, "role", "", "only users with this role: user, admin or super_admin")
	list.Flags().BoolVar(&u.inactive, "inactive", false, "only deactivated users")
	list.Flags().BoolVar(&u.asJSON, "json", false, "print a JSON array instead of a table")
	cmd.AddCommand(create, list)
	cmd.AddCommand(u.breakGlassCommands()...)
	return cmd
}

// withUsers opens the database and the hasher, marks the context with the
// operator for the audit trail, and runs fn with the account service: the
// preamble of every users command.
func (u *users) withUsers(cmd *cobra.Command, fn func(ctx context.Context, users *account.Users) error) error {
	ctx := account.WithOrigin(cmd.Context(), account.Origin{Operator: operatorName()})
	// A database that does not exist or refuses the credentials will not
	// answer later either: say what to fix rather than "try again".
	if err := database.Check(ctx, u.Config.Database.ConnString(), u.Config.Database.PoolTimeout); err != nil {
		return err
	}
	db, err := database.Open(ctx, u.Config.Database, u.Log)
	if err != nil {
		return err
	}
	defer db.Close()
	hasher, err := service.NewHasher(u.Config.Password, nil)
	if err != nil {
		return err
	}
	return fn(ctx, account.NewUsers(db, hasher))
}

// withOperator is withUsers with the domain's operator, and its error
// described for the terminal.
func (u *users) withOperator(cmd *cobra.Command, fn func(ctx context.Context, op *account.Operator) error) error {
	return u.withUsers(cmd, func(ctx context.Context, users *account.Users) error {
		return describe(fn(ctx, users.Operator()))
	})
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

// readPassword reads a password from the variable env, else from a
// terminal on in (a hidden prompt, asked twice, the two must match), else
// from the first line of in, without its line ending.
func (u *users) readPassword(in io.Reader, env string) (string, error) {
	if pw := u.Getenv(env); pw != "" {
		return pw, nil
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(f)
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("no password: set %s or write it on standard input", env)
	}
	return pw, nil
}

// promptPassword asks for the password twice on the terminal tty, without
// echo, as Django's createsuperuser does, and returns it when both match.
// The prompts go to the terminal itself, so that stdout stays the
// command's answer.
func promptPassword(tty *os.File) (string, error) {
	read := func(prompt string) (string, error) {
		if _, err := fmt.Fprint(tty, prompt); err != nil {
			return "", err
		}
		b, err := term.ReadPassword(int(tty.Fd()))
		_, _ = fmt.Fprintln(tty) // ends the prompt's line; the password read is what matters
		if err != nil {
			return "", fmt.Errorf("read the password from the terminal: %w", err)
		}
		return string(b), nil
	}
	pw, err := read("Password: ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("no password: an empty one is not allowed")
	}
	again, err := read("Password (again): ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the two passwords do not match; nothing was created")
	}
	return pw, nil
}

func (u *users) runCreateSuperAdmin(cmd *cobra.Command, _ []string) error {
	pw, err := u.readPassword(cmd.InOrStdin(), SuperAdminPasswordEnv)
	if err != nil {
		return err
	}
	// Validate before touching the database, so a typo costs nothing.
	var problems []string
	if msg := account.ValidateUsername(u.username); msg != "" {
		problems = append(problems, "username "+msg)
	}
	if msg := account.ValidatePassword(pw); msg != "" {
		problems = append(problems, "password "+msg)
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid input: %s", strings.Join(problems, "; "))
	}
	return u.withUsers(cmd, func(ctx context.Context, users *account.Users) error {
		// No check before the insert: the unique index decides, also
		// against a sign-up of the same name at the same moment.
		created, err := users.CreateSuperAdmin(ctx, account.NewUser{Username: u.username, Password: pw})
		if err != nil {
			if account.ErrorCode(err) == account.CodeUsernameTaken {
				return fmt.Errorf("username %q is taken (in some letter case); choose another", u.username)
			}
			return describe(err)
		}
		keyID := users.PepperKeyID()
		if keyID == "" {
			keyID = "none (no password.pepper)"
		}
		// The key id lets the operator compare with the one serve logs at
		// start-up: on an empty database CreateSuperAdmin cannot tell.
		_, err = fmt.Fprintf(u.Stdout, "created super admin %s (id %s, password hash key id %s)\n", created.Username, created.ID, keyID)
		return err
	})
}

func (u *users) runList(cmd *cobra.Command, _ []string) error {
	var f account.ListFilter
	if u.role != "" {
		r := account.Role(u.role)
		if !r.Valid() {
			return fmt.Errorf("--role must be user, admin or super_admin, got %q", u.role)
		}
		f.Role = &r
	}
	f.InactiveOnly = u.inactive
	return u.withOperator(cmd, func(ctx context.Context, op *account.Operator) error {
		list, err := op.List(ctx, f)
		if err != nil {
			return err
		}
		if u.asJSON {
			return printJSON(cmd.OutOrStdout(), list)
		}
		return printTable(cmd.OutOrStdout(), list)
	})
}
