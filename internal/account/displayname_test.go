package account

import "testing"

// TestDisplayNameRefusesInvisibleCharacters (issue 29, finding 8): a
// display name may not hold what would make it read otherwise than it is
// stored: controls, Unicode format characters (Cf: zero-width, bidi
// controls, the byte-order mark) and line or paragraph separators.
func TestDisplayNameRefusesInvisibleCharacters(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"Alice\u202eecilA", // right-to-left override
		"Ali\u200bce",      // zero-width space
		"Alice\u2066x",     // left-to-right isolate
		"\ufeffAlice",      // byte-order mark
		"Alice\u2028Bob",   // line separator
		"Alice\u2029",      // paragraph separator
		"Alice\u00ad",      // soft hyphen (Cf)
		"Alice\x07",
	} {
		if ValidateDisplayName(name) == "" {
			t.Errorf("display name %q was accepted", name)
		}
	}
	for _, name := range []string{"Alice Liddell", "Zoë Ω", "山田 太郎", "O'Brien-Smith"} {
		if msg := ValidateDisplayName(name); msg != "" {
			t.Errorf("display name %q was refused: %s", name, msg)
		}
	}
}
