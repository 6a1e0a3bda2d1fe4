// Package visible writes text a client or a user chose so that every
// character of it shows: what a terminal, a log viewer or a browser would
// act on or hide (controls, escape sequences, bidi and zero-width
// characters, line separators) is written as a Go escape instead. The
// HTTP layer repeats names from requests through it, the CLI prints
// tables through it.
package visible

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Cut is what Text appends when it stops at its limit.
const Cut = "…"

// Text returns s with every character strconv does not count as
// printable, and the backslash, written as a Go escape (\x1b, \u202e,
// \\), and every byte that is not UTF-8 as \xNN. When limit is positive
// the result holds at most limit characters besides Cut, which marks
// that s went on; Text stops reading s there, so a long s costs no more
// than a short one.
func Text(s string, limit int) string {
	if (limit <= 0 || len(s) <= limit) && printableASCII(s) {
		// Nothing to escape or cut: s is its own answer, with no copy
		// (the method and path of every request line).
		return s
	}
	var b strings.Builder
	n := 0
	for i, r := range s {
		piece := string(r)
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case r == '\\' || !strconv.IsPrint(r):
			q := strconv.QuoteRune(r)
			piece = q[1 : len(q)-1]
		}
		width := utf8.RuneCountInString(piece)
		if limit > 0 && n+width > limit {
			b.WriteString(Cut)
			break
		}
		n += width
		b.WriteString(piece)
	}
	return b.String()
}

// printableASCII reports whether every byte of s is printable ASCII other
// than the backslash (which Text escapes).
func printableASCII(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}
