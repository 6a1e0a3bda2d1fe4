package config_test

import (
	"os"
	"strings"
	"testing"

	"accounts/internal/config"
)

// TestReadmeDocumentsEveryKey keeps the README's configuration table true:
// every key, with its variables and default, must have a row, and no row may
// name a key that does not exist.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "<!-- config-table")
	end := strings.Index(readme, "<!-- /config-table -->")
	if start < 0 || end < start {
		t.Fatal("README has no config-table section")
	}
	rows := map[string]string{}
	for _, line := range strings.Split(readme[start:end], "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		key := strings.Trim(strings.Split(line, "|")[1], " `")
		rows[key] = line
	}
	for _, k := range config.Keys() {
		row, ok := rows[k.Name]
		if !ok {
			t.Errorf("README lacks a row for %s", k.Name)
			continue
		}
		delete(rows, k.Name)
		for _, env := range k.Env {
			if !strings.Contains(row, "`"+env+"`") {
				t.Errorf("README row of %s does not name %s", k.Name, env)
			}
		}
		givesDefault := strings.Contains(row, "`"+k.Default+"`") || k.Default == "" && strings.Contains(row, "(empty)")
		if !k.Secret && !givesDefault {
			t.Errorf("README row of %s does not give the default %q", k.Name, k.Default)
		}
	}
	for key := range rows {
		t.Errorf("README documents %s, which is not a configuration key", key)
	}
}
