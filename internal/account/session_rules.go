package account

import (
	"encoding/base64"
	"time"
)

// TokenHash returns the hash under which a session token is stored, and
// false for a string that cannot be a token (wrong length or alphabet),
// which needs no lookup.
func TokenHash(token string) ([]byte, bool) {
	if len(token) != tokenLen {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil {
		return nil, false
	}
	return hashToken(token), true
}

// CheckSession applies the rules of a session found by its token, at now:
// an expired session is CodeUnauthenticated, a session of a deactivated
// user CodeAccountInactive, and a live one with less than a fifth of ttl
// left should be extended to now + ttl (extend). Authenticate and the
// benchmark's baseline both judge sessions with it.
func CheckSession(sess Session, u User, now time.Time, ttl time.Duration) (extend bool, err error) {
	if !now.Before(sess.ExpiresAt) {
		return false, Errorf(CodeUnauthenticated, "the session has expired; log in again")
	}
	if !u.IsActive {
		return false, Errorf(CodeAccountInactive, "this account is deactivated")
	}
	return sess.ExpiresAt.Sub(now) < ttl/5, nil
}
