package migrate

import "testing"

// TestRevisionSchemaOf pins the Atlas CLI's rule for where the revision table
// lives, so both tools read one table whatever URL a team uses.
func TestRevisionSchemaOf(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"postgres://u@h/db":                            RevisionSchema,
		"postgres://u@h/db?sslmode=disable":            RevisionSchema,
		"postgres://u@h/db?search_path=public":         "public",
		"postgres://u@h/db?search_path=app,public&x=1": "app",
		"postgres://u@h/db?search_path=%22Tenant%22":   "Tenant",
		"::not a url": RevisionSchema,
	} {
		if got := RevisionSchemaOf(url); got != want {
			t.Errorf("RevisionSchemaOf(%q) = %q, want %q", url, got, want)
		}
	}
}
