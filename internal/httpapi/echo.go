package httpapi

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxEcho is how many characters of a name a client sent (a member of a
// body, a path, a method, a request id) an answer or a log line repeats:
// enough to recognise it, while a 1 MB name costs no more than a short one.
const maxEcho = 64

// echo returns s as an answer or a log line may repeat it: every
// character strconv does not count as printable (controls, line and
// paragraph separators, the invisible format characters of Unicode's Cf
// class, bidi controls among them) and the backslash are written as Go
// escapes (\u2028, \x01, \\), bytes that are not UTF-8 as \xNN, and the
// result is cut at maxEcho characters, marked with "…" when cut.
func echo(s string) string {
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
		if n+utf8.RuneCountInString(piece) > maxEcho {
			b.WriteString("…")
			break
		}
		n += utf8.RuneCountInString(piece)
		b.WriteString(piece)
	}
	return b.String()
}
