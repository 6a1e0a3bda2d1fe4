package main

import (
	"strings"
	"testing"
)

// Every migrate command that reaches the configured database says what to
// do about a database or role that does not exist, in serve's words, and
// the createdb hint names the URL's host and port.
func TestMigrateConnectionErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	server, noDB, noRole := missingDatabaseAndRole(t)
	createdb := "createdb -h " + server.Hostname() + " -p " + server.Port() + " " + strings.TrimPrefix(noDB.Path, "/")
	cases := []struct {
		url  string
		want []string
	}{
		{noDB.String(), []string{"does not exist", createdb, "database.name"}},
		{noRole.String(), []string{"no_such_role_", "database.user"}},
	}
	for _, c := range cases {
		for _, args := range [][]string{{"migrate", "status"}, {"migrate", "apply"}, {"migrate", "drift"}, {"migrate", "history"}, {"migrate", "down"}, {"wait-db"}} {
			env := map[string]string{"DATABASE_URL": c.url, "ACCOUNTS_LOG_LEVEL": "warn", "ACCOUNTS_DATABASE_WAIT_TIMEOUT": "5s"}
			_, _, err := runCapture(env, args...)
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%v on %s: %v\nlacks %q", args, c.url, err, w)
				}
			}
		}
	}
}
