package account

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	entuser "accounts/ent/user"
)

// FuzzCursor: the after cursor of GET /users is client input. Whatever it
// holds, Validate does not panic, and a cursor it accepts decodes into a
// key PostgreSQL can take for its sort column: text without NUL and valid
// UTF-8, a known role, a boolean, or a time.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		`{"s":"username","k":"alice","id":"0192d4e0-7c1a-7b3e-9f00-123456789abc"}`,
		`{"s":"username","k":"a\u0000b","id":"0192d4e0-7c1a-7b3e-9f00-123456789abc"}`,
		`{"s":"created_at","d":true,"k":"2026-01-01T00:00:00Z","id":"0192d4e0-7c1a-7b3e-9f00-123456789abc"}`,
		`{"s":"role","k":"ADMIN","id":"0192d4e0-7c1a-7b3e-9f00-123456789abc"}`,
		`{"s":"is_active","k":"true","id":"0192d4e0-7c1a-7b3e-9f00-123456789abc"}`,
		`{"s":"username","k":"\ud800","id":"x"}`, `[]`, `null`,
	} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(seed)), "username", false)
	}
	f.Fuzz(func(t *testing.T, after, sort string, desc bool) {
		p := ListParams{Limit: 20, Sort: sort, Desc: desc, After: after}
		if p.Validate() != nil || after == "" {
			return
		}
		c, key, err := decodeCursor(after)
		if err != nil {
			t.Fatalf("Validate accepted %q, which does not decode: %v", after, err)
		}
		if c.Sort != sort || c.Desc != desc {
			t.Fatalf("Validate accepted a cursor of another listing: %+v for sort %q desc %v", c, sort, desc)
		}
		switch k := key.(type) {
		case string:
			if strings.ContainsRune(k, 0) || !utf8.ValidString(k) {
				t.Fatalf("accepted key %q cannot be PostgreSQL text", k)
			}
		case entuser.Role:
			if entuser.RoleValidator(k) != nil {
				t.Fatalf("accepted role key %q", k)
			}
		case bool, time.Time:
		default:
			t.Fatalf("accepted key %#v of type %T", key, key)
		}
	})
}
