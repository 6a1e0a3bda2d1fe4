package account

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"accounts/ent"
	"accounts/ent/authsession"
	"accounts/ent/predicate"
	"accounts/ent/schema"
)

// SessionInfo is one session as its user sees it in the list of their
// sessions: never the token or its hash. The SessionInfo schema of the API
// document is this type.
type SessionInfo struct {
	ID         uuid.UUID `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	// Current is true for the session the request came with.
	Current bool `json:"current"`
}

// LogoutScope says which of the caller's sessions a logout ends, as
// Supabase Auth's logout does.
type LogoutScope string

// The logout scopes.
const (
	// LogoutLocal ends the session of the request (the default).
	LogoutLocal LogoutScope = "local"
	// LogoutOthers ends every other session of the caller.
	LogoutOthers LogoutScope = "others"
	// LogoutGlobal ends every session of the caller.
	LogoutGlobal LogoutScope = "global"
)

// LogoutScopes lists the scopes, for the API document's test.
var LogoutScopes = []LogoutScope{LogoutLocal, LogoutOthers, LogoutGlobal}

// AuditLoggedOut and AuditSessionRevoked are the audit actions of a user
// ending their own sessions.
const (
	// AuditLoggedOut: a logout; details name the scope and how many
	// sessions ended.
	AuditLoggedOut = "user.logged_out"
	// AuditSessionRevoked: a user ended one of their sessions by id.
	AuditSessionRevoked = "user.session_revoked"
)

// ShortUserAgent is the label a session keeps of a User-Agent: valid
// UTF-8 without control characters, cut at a character boundary to at most
// schema.SessionUserAgentMaxLen bytes (so as many characters at most), so
// a client cannot store more, or anything that breaks a terminal or a log.
func ShortUserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "")
	ua = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, ua)
	ua = strings.TrimSpace(ua)
	for len(ua) > schema.SessionUserAgentMaxLen {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	return ua
}

// List returns the caller's live sessions, newest first. A user has at
// most MaxSessionsPerUser, so the list needs no paging.
func (s *Sessions) List(ctx context.Context, p Principal) ([]SessionInfo, error) {
	rows, err := s.client.AuthSession.Query().
		Where(authsession.UserID(p.User.ID), authsession.ExpiresAtGT(s.now())).
		Order(ent.Desc(authsession.FieldID)).
		Limit(MaxSessionsPerUser).
		All(ctx)
	if err != nil {
		return nil, storageError(err, "")
	}
	out := make([]SessionInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, SessionInfo{
			ID: r.ID, CreatedAt: r.CreatedAt.UTC(), LastUsedAt: r.LastUsedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
			UserAgent: r.UserAgent, Current: r.ID == p.Session.ID,
		})
	}
	return out, nil
}

// Revoke ends the caller's session id. A session of another user is
// answered as one that does not exist, so ids tell nothing across users.
func (s *Sessions) Revoke(ctx context.Context, p Principal, id uuid.UUID) error {
	return withTx(ctx, s.client, func(tx *ent.Tx) error {
		n, err := tx.AuthSession.Delete().
			Where(authsession.ID(id), authsession.UserID(p.User.ID)).
			Exec(ctx)
		if err != nil {
			return storageError(err, "")
		}
		if n == 0 {
			return &Error{Code: CodeSessionNotFound, Message: "you have no session with this id"}
		}
		return record(ctx, tx, auditEntry{action: AuditSessionRevoked, actor: &p.User, target: p.User,
			details: map[string]any{"session_id": id.String()}})
	})
}

// Logout ends the caller's sessions that scope names ("" is local), and
// records how many ended.
func (s *Sessions) Logout(ctx context.Context, p Principal, scope LogoutScope) error {
	var which predicate.AuthSession
	switch scope {
	case LogoutLocal, "":
		scope, which = LogoutLocal, authsession.ID(p.Session.ID)
	case LogoutOthers:
		which = authsession.IDNEQ(p.Session.ID)
	case LogoutGlobal:
		which = authsession.UserID(p.User.ID)
	default:
		return &Error{Code: CodeValidationFailed, Message: "the request has invalid parameters",
			Fields: []FieldError{{Field: "scope", Message: "must be one of local, others, global"}}}
	}
	return withTx(ctx, s.client, func(tx *ent.Tx) error {
		n, err := tx.AuthSession.Delete().Where(authsession.UserID(p.User.ID), which).Exec(ctx)
		if err != nil {
			return storageError(err, "")
		}
		details := sessionsEnded(n)
		details["scope"] = string(scope)
		return record(ctx, tx, auditEntry{action: AuditLoggedOut, actor: &p.User, target: p.User, details: details})
	})
}
