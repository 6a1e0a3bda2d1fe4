package cli

import (
	"strings"
	"testing"
	"time"
)

// TestPrintTableNullableField prints a type with a nullable (pointer)
// field, as account.User's optional fields are: NULL shows as "-", a value
// as itself, times in UTC, and a field without a JSON name is left out.
func TestPrintTableNullableField(t *testing.T) {
	type row struct {
		Name    string    `json:"name"`
		Display *string   `json:"display_name"`
		At      time.Time `json:"at"`
		Secret  string    `json:"-"`
	}
	shown := "Ann"
	at := time.Date(2026, 12, 3, 20, 0, 0, 0, time.FixedZone("x", 3600))
	var b strings.Builder
	if err := printTable(&b, []row{{"ann1", &shown, at, "s1"}, {"bob1", nil, at, "s2"}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := [][]string{{"NAME", "DISPLAY_NAME", "AT"}, {"ann1", "Ann", "2026-12-03T19:00:00Z"}, {"bob1", "-", "2026-12-03T19:00:00Z"}}
	if len(lines) != len(want) {
		t.Fatalf("printed:\n%s", b.String())
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d = %q, want %q", i, got, w)
		}
	}
}
