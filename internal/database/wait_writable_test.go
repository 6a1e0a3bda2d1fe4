package database

import "testing"

// TestWritableURL checks what wait-db tries: several hosts without
// target_session_attrs ask for the writable one, in both URL and
// key=value form; one host, or a choice made in the string, stay as they
// are.
func TestWritableURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u@h1:5432,h2:5432/app":                 "postgres://u@h1:5432,h2:5432/app?target_session_attrs=read-write",
		"postgres://u@h1:5432,h2:5432/app?sslmode=disable": "postgres://u@h1:5432,h2:5432/app?sslmode=disable&target_session_attrs=read-write",
		"host=h1,h2 port=5432 dbname=app":                  "host=h1,h2 port=5432 dbname=app target_session_attrs=read-write",
		"postgres://u@h1:5432/app":                         "postgres://u@h1:5432/app",
		"postgres://u@h1,h2/app?target_session_attrs=any":  "postgres://u@h1,h2/app?target_session_attrs=any",
	} {
		if got := writableURL(in); got != want {
			t.Errorf("writableURL(%q) = %q, want %q", in, got, want)
		}
	}
}
