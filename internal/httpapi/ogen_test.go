package httpapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOgenGeneratesWithoutWarnings generates a Go client and server with
// ogen from the document the service serves, and fails on every warning
// ogen prints: a team generating clients met 102 of them (issue 31), each
// a place where the generated code silently differs from the document.
// ogen is v1.25.0 from tools/ogen/go.mod, kept apart from the service's
// go.mod like tools/lint; the generated code is thrown away.
func TestOgenGeneratesWithoutWarnings(t *testing.T) {
	t.Parallel()
	doc, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(spec, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "go", "tool", "-modfile=../../tools/ogen/go.mod", "ogen",
		"-target", filepath.Join(dir, "api"), "-package", "api", "-clean", spec)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ogen failed: %v\n%s", err, out)
	}
	var warnings []string
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "WARN") {
			warnings = append(warnings, strings.TrimSpace(line))
		}
	}
	if len(warnings) > 0 {
		t.Fatalf("ogen printed %d warnings on the served document:\n%s", len(warnings), strings.Join(warnings, "\n"))
	}
}
