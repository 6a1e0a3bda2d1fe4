package main

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"accounts/internal/account"
)

// TestUsersListShowsEveryField lists users with `users list` and `users
// list --json` and checks that both show every field of account.User, the
// one public shape of a user: the JSON objects have exactly User's JSON
// names, and the table a column headed by each. A field added to User must
// show here without an edit to the command.
func TestUsersListShowsEveryField(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	env := maps.Clone(s.env)
	s.newClient(false).signUp("listed1", "listed-password")

	var want []string
	ut := reflect.TypeFor[account.User]()
	for i := range ut.NumField() {
		name, _, _ := strings.Cut(ut.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			want = append(want, name)
		}
	}
	slices.Sort(want)

	out, err := runWithStdin(env, "", "users", "list", "--json")
	if err != nil {
		t.Fatalf("users list --json: %v\n%s", err, out)
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("users list --json printed %d users (%v):\n%s", len(listed), err, out)
	}
	got := slices.Sorted(maps.Keys(listed[0]))
	if !slices.Equal(got, want) {
		t.Errorf("users list --json keys %v, want User's %v", got, want)
	}

	out, err = runWithStdin(env, "", "users", "list")
	if err != nil {
		t.Fatalf("users list: %v\n%s", err, out)
	}
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	for _, name := range want {
		if !slices.Contains(header, strings.ToUpper(name)) {
			t.Errorf("users list has no column %s; header %v", strings.ToUpper(name), header)
		}
	}
	if !strings.Contains(out, "listed1") {
		t.Errorf("users list lacks the user:\n%s", out)
	}
}
