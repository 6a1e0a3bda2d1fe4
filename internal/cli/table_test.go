package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// nullable is a nullable type with a JSON form of its own, as a domain
// may declare one instead of a pointer.
type nullable struct {
	s     string
	valid bool
}

func (n nullable) MarshalJSON() ([]byte, error) {
	if !n.valid {
		return []byte("null"), nil
	}
	return json.Marshal(n.s)
}

// TestPrintTableNullableField prints a type with nullable fields, a
// pointer and a type with its own JSON form, as account.User's optional
// fields may be: NULL shows as "-", a value as itself, times in UTC, and a
// field without a JSON name is left out.
func TestPrintTableNullableField(t *testing.T) {
	type row struct {
		Name    string    `json:"name"`
		Display *string   `json:"display_name"`
		At      time.Time `json:"at"`
		Secret  string    `json:"-"`
		Nick    nullable  `json:"nick"`
	}
	shown := "Ann"
	at := time.Date(2026, 12, 3, 20, 0, 0, 0, time.FixedZone("x", 3600))
	var b strings.Builder
	if err := printTable(&b, []row{{"ann1", &shown, at, "s1", nullable{"a1", true}}, {"bob1", nil, at, "s2", nullable{}}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := [][]string{{"NAME", "DISPLAY_NAME", "AT", "NICK"}, {"ann1", "Ann", "2026-12-03T19:00:00Z", "a1"}, {"bob1", "-", "2026-12-03T19:00:00Z", "-"}}
	if len(lines) != len(want) {
		t.Fatalf("printed:\n%s", b.String())
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d = %q, want %q", i, got, w)
		}
	}
}

// TestPrintTableEscapesText (issue 29, finding 8): a value that a user
// chose (a display name) cannot drive the terminal or forge the table:
// escape sequences, bidi controls, zero-width characters, tabs and line
// breaks are printed as visible escapes.
func TestPrintTableEscapesText(t *testing.T) {
	type row struct {
		Name    string  `json:"name"`
		Display *string `json:"display_name"`
	}
	for raw, want := range map[string]string{
		"\x1b[2J\x1b[31mroot":  `\x1b[2J\x1b[31mroot`,
		"evil\u202eelif.exe":   `evil\u202eelif.exe`,
		"zero\u200bwidth":      `zero\u200bwidth`,
		"two\tcols":            `two\tcols`,
		"fake\nbob1  Bob  row": `fake\nbob1`,
		"Zoë 山田":               "Zoë",
		"back\\slash":          `back\\slash`,
	} {
		var b strings.Builder
		if err := printTable(&b, []row{{"ann1", &raw}}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		if len(lines) != 2 || strings.ContainsAny(b.String(), "\x1b\u202e\u200b\t") {
			t.Errorf("%q printed raw:\n%s", raw, b.String())
			continue
		}
		if f := strings.Fields(lines[1]); len(f) < 2 || f[1] != want {
			t.Errorf("%q printed as %q, want %q", raw, f, want)
		}
	}
}
