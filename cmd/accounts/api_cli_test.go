package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

// runWithStdin runs the program with stdin, through the root command as
// run builds it (run itself has no stdin parameter; the command reads
// cmd.InOrStdin()).
func runWithStdin(env map[string]string, stdin string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	a := &app{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errOut}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	err := root.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

func TestCreateSuperAdminCommand(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	s.addSecret("root-password-1")
	out, err := runWithStdin(env, "root-password-1\n", "users", "create-superadmin", "--username", "Root1")
	if err != nil || !strings.Contains(out, "created super admin Root1") {
		t.Fatalf("from stdin: %v\n%s", err, out)
	}
	c := s.newClient(false)
	c.login("root1", "root-password-1")
	r := c.do("GET", "/api/v1/account", nil)
	if !strings.Contains(string(r.body), `"role":"super_admin"`) {
		t.Fatalf("account %s", r.body)
	}

	// A taken name, in any case, is refused.
	if out, err := runWithStdin(env, "root-password-2\n", "users", "create-superadmin", "--username", "ROOT1"); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("taken name: %v\n%s", err, out)
	}
	// The API's rules apply.
	for _, c := range []struct{ name, pw, want string }{
		{"ro", "root-password-2", "username"},
		{"root2", "short", "password"},
		{"root2", "", "no password"},
	} {
		if _, err := runWithStdin(env, c.pw, "users", "create-superadmin", "--username", c.name); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q/%q: %v, want an error about %s", c.name, c.pw, err, c.want)
		}
	}
	if _, err := runWithStdin(env, "", "users", "create-superadmin"); err == nil {
		t.Error("no --username accepted")
	}
	// The environment variable wins over stdin, for automation.
	env[superAdminPasswordEnv] = "root-password-env"
	s.addSecret("root-password-env")
	if out, err := runWithStdin(env, "ignored-password\n", "users", "create-superadmin", "--username", "root3"); err != nil {
		t.Fatalf("from env: %v\n%s", err, out)
	}
	s.newClient(false).login("root3", "root-password-env")
	expect(t, s.newClient(false).do("POST", "/api/v1/account/login", map[string]string{"username": "root3", "password": "ignored-password"}), http.StatusUnauthorized, "invalid_credentials")
}
