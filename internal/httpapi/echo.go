package httpapi

import "accounts/internal/visible"

// maxEcho is how many characters of a name a client sent (a member of a
// body, a path, a method, a request id) an answer or a log line repeats:
// enough to recognise it, while a 1 MB name costs no more than a short one.
const maxEcho = 64

// echo returns s as an answer or a log line may repeat it: its invisible
// characters escaped and cut at maxEcho characters (visible.Text).
func echo(s string) string { return visible.Text(s, maxEcho) }
