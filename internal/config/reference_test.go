package config_test

import (
	"testing"

	"accounts/internal/config"
)

// TestWithReferenceNeedsMarkers: a document without the config-table
// markers is an error, never a document the table is silently left out of.
func TestWithReferenceNeedsMarkers(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"# Configuration\n", "<!-- /config-table -->\n<!-- config-table -->\n"} {
		if _, err := config.WithReference(doc); err == nil {
			t.Errorf("WithReference(%q) returned no error", doc)
		}
	}
	got, err := config.WithReference("a\n<!-- config-table: x -->\nold\n<!-- /config-table -->\nb\n")
	if err != nil || got != "a\n<!-- config-table: x -->\n"+config.Reference()+"<!-- /config-table -->\nb\n" {
		t.Errorf("WithReference = %q, %v", got, err)
	}
}
