package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"accounts/internal/account"
)

// superAdminPasswordEnv holds the new super admin's password for
// automation, where no one types it on stdin.
const superAdminPasswordEnv = "ACCOUNTS_SUPERADMIN_PASSWORD"

func (a *app) usersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage users from the command line"}
	var username string
	create := &cobra.Command{
		Use:   "create-superadmin --username NAME",
		Short: "Create a super admin (the API never creates one)",
		Long: "Create a super admin. The password is read from " + superAdminPasswordEnv +
			" when it is set, otherwise asked twice, hidden, when standard input is a terminal, otherwise read from the first line of standard input; it must satisfy the same rules as in the API.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := a.readPassword(cmd.InOrStdin(), superAdminPasswordEnv)
			if err != nil {
				return err
			}
			return a.createSuperAdmin(cmd, username, pw)
		},
	}
	create.Flags().StringVar(&username, "username", "", "the new super admin's username (required)")
	_ = create.MarkFlagRequired("username")
	cmd.AddCommand(create)
	cmd.AddCommand(a.breakGlassCommands()...)
	return cmd
}

// readPassword reads a password from the variable env, else from a
// terminal on in (a hidden prompt, asked twice, the two must match), else
// from the first line of in, without its line ending.
func (a *app) readPassword(in io.Reader, env string) (string, error) {
	if pw := a.getenv(env); pw != "" {
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
		fmt.Fprintln(tty)
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

func (a *app) createSuperAdmin(cmd *cobra.Command, username, pw string) error {
	// Validate before touching the database, so a typo costs nothing.
	var problems []string
	if msg := account.ValidateUsername(username); msg != "" {
		problems = append(problems, "username "+msg)
	}
	if msg := account.ValidatePassword(pw); msg != "" {
		problems = append(problems, "password "+msg)
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid input: %s", strings.Join(problems, "; "))
	}
	return a.withUsers(cmd, func(ctx context.Context, users *account.Users) error {
		// No check before the insert: the unique index decides, also
		// against a sign-up of the same name at the same moment.
		u, err := users.CreateSuperAdmin(ctx, account.NewUser{Username: username, Password: pw})
		if err != nil {
			if account.ErrorCode(err) == account.CodeUsernameTaken {
				return fmt.Errorf("username %q is taken (in some letter case); choose another", username)
			}
			return describe(err)
		}
		keyID := users.PepperKeyID()
		if keyID == "" {
			keyID = "none (no password.pepper)"
		}
		// The key id lets the operator compare with the one serve logs at
		// start-up: on an empty database CreateSuperAdmin cannot tell.
		_, err = fmt.Fprintf(a.stdout, "created super admin %s (id %s, password hash key id %s)\n", u.Username, u.ID, keyID)
		return err
	})
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
