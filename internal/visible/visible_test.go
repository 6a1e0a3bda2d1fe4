package visible

import (
	"strings"
	"testing"
)

// TestText: what Text makes of text, without a limit and with one.
func TestText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"Zoë 山田", 0, "Zoë 山田"},
		{"\x1b[31m\u202e\u200b\t\n\\", 0, `\x1b[31m\u202e\u200b\t\n\\`},
		{"bad\xffbyte\uFFFD", 0, `bad\xffbyte` + "\uFFFD"},
		{strings.Repeat("a", 10), 4, "aaaa" + Cut},
		{strings.Repeat("\u2028", 10), 13, `\u2028\u2028` + Cut},
		{"abcd", 4, "abcd"},
	} {
		if got := Text(tc.in, tc.limit); got != tc.want {
			t.Errorf("Text(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}
