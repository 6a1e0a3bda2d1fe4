package config_test

import (
	"os"
	"strings"
	"testing"

	"accounts/internal/config"
)

// TestDocsConfigReferenceIsCurrent fails when docs/configuration.md's
// reference table is not what `go generate ./internal/config` writes from
// the keys' definition.
func TestDocsConfigReferenceIsCurrent(t *testing.T) {
	t.Parallel()
	doc := readReference(t)
	want, err := config.WithReference(doc)
	if err != nil {
		t.Fatalf("%s: %v", config.ReferenceFile, err)
	}
	if want != doc {
		t.Errorf("%s is stale: run go generate ./internal/config and commit the result", config.ReferenceFile)
	}
}

// readReference returns the text of docs/configuration.md.
func readReference(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../" + config.ReferenceFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestDocsConfigTableDocumentsEveryKey keeps the configuration table of
// docs/configuration.md true, whoever wrote it: every key, with its
// variables and default, must have a row, and no row may name a key that
// does not exist.
func TestDocsConfigTableDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	doc := readReference(t)
	start := strings.Index(doc, "<!-- config-table")
	end := strings.Index(doc, "<!-- /config-table -->")
	if start < 0 || end < start {
		t.Fatal("docs/configuration.md has no config-table section")
	}
	rows := map[string]string{}
	for _, line := range strings.Split(doc[start:end], "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		key := strings.Trim(strings.Split(line, "|")[1], " `")
		rows[key] = line
	}
	for _, k := range config.Keys() {
		row, ok := rows[k.Name]
		if !ok {
			t.Errorf("docs/configuration.md lacks a row for %s", k.Name)
			continue
		}
		delete(rows, k.Name)
		for _, env := range k.Env {
			if !strings.Contains(row, "`"+env+"`") {
				t.Errorf("docs/configuration.md's row of %s does not name %s", k.Name, env)
			}
		}
		givesDefault := strings.Contains(row, "`"+k.Default+"`") || k.Default == "" && strings.Contains(row, "(empty)")
		if !k.Secret && !givesDefault {
			t.Errorf("docs/configuration.md's row of %s does not give the default %q", k.Name, k.Default)
		}
	}
	for key := range rows {
		t.Errorf("docs/configuration.md documents %s, which is not a configuration key", key)
	}
}
