package account

import (
	"regexp"
	"testing"
	"unicode/utf8"
)

// usernameRule is the username rule written as a regular expression, an
// independent statement of what ValidateUsername checks by hand.
var usernameRule = regexp.MustCompile(`^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$`)

// FuzzValidateUsername: the hand-written check agrees with the regular
// expression and the length bounds on every input.
func FuzzValidateUsername(f *testing.F) {
	for _, s := range []string{"alice", "a.b-c_d", ".abc", "abc.", "a..b", "ä", "abcd", "abcdefghijklmnopqrstuvwxyz0123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := usernameRule.MatchString(name) && len(name) >= UsernameMinLen && len(name) <= UsernameMaxLen
		if got := ValidateUsername(name) == ""; got != want {
			t.Fatalf("ValidateUsername(%q) valid=%v, want %v", name, got, want)
		}
	})
}

// FuzzValidatePassword: valid exactly when it is UTF-8 of 8–128 characters.
func FuzzValidatePassword(f *testing.F) {
	for _, s := range []string{"", "12345678", "ééééééé", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		n := utf8.RuneCountInString(pw)
		want := utf8.ValidString(pw) && n >= PasswordMinLen && n <= PasswordMaxLen
		if got := ValidatePassword(pw) == ""; got != want {
			t.Fatalf("ValidatePassword(%q) valid=%v, want %v", pw, got, want)
		}
	})
}
