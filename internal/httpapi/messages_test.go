package httpapi

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"accounts/internal/account"
)

// superSessions adds a super admin ("super") to stubSessions.
type superSessions struct{ stubSessions }

func (s superSessions) AuthenticateReading(ctx context.Context, token string, target uuid.UUID) (account.Principal, error) {
	if token == "super" {
		return account.Principal{User: account.User{ID: uuid.New(), Role: account.RoleSuperAdmin, IsActive: true}}, nil
	}
	return s.stubSessions.AuthenticateReading(ctx, token, target)
}

// stubAudit answers an empty page to whatever reaches it.
type stubAudit struct{}

func (stubAudit) Read(context.Context, account.AuditFilter) (account.AuditPage, error) {
	return account.AuditPage{}, nil
}

// TestParameterMessagesInClientWords: an invalid parameter is named in
// errors[] with words a client understands, never a regular expression, a
// JSON pointer into a schema or a Go type name, whichever operation it
// belongs to and whether the document or the generated binding saw it.
func TestParameterMessagesInClientWords(t *testing.T) {
	t.Parallel()
	h, err := New(Deps{Users: stubUsers{}, Sessions: superSessions{}, Audit: stubAudit{}, Log: slog.New(slog.DiscardHandler),
		Config: Config{MaxBodyBytes: 1 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target, token string
		field, want   string
	}{
		{"/api/v1/users/nope", "", "id", "must be a UUID"},
		{"/api/v1/users/0192d4e0-7c1a-7b3e-9f00-123456789abcd", "", "id", "must be a UUID"},
		{"/api/v1/audit?actor=root1", "super", "actor", "must be a UUID"},
		{"/api/v1/audit?target=0192d4e07c1a7b3e9f00123456789abc", "super", "target", "must be a UUID"},
		{"/api/v1/audit?since=yesterday", "super", "since", "must be an RFC 3339 date-time"},
		{"/api/v1/audit?until=2026-01-01", "super", "until", "must be an RFC 3339 date-time"},
		{"/api/v1/audit?limit=x", "super", "limit", "must be an integer"},
		{"/api/v1/audit?limit=1000", "super", "limit", "must be at most 100"},
		{"/api/v1/users?limit=0", "admin", "limit", "must be at least 1"},
		{"/api/v1/users?is_active=yes", "admin", "is_active", "must be a boolean"},
		{"/api/v1/users?limit=1&limit=2", "admin", "limit", "must be given once"},
	} {
		a := send(h, "GET", tc.target, tc.token, "", "")
		if a.status != 422 || a.p.Code != account.CodeValidationFailed || !slices.Equal(a.fields(), []string{tc.field}) {
			t.Errorf("%s: %d %s %v (%s), want 422 validation_failed naming %s", tc.target, a.status, a.p.Code, a.fields(), a.p.Detail, tc.field)
			continue
		}
		if got := a.p.Errors[0].Message; got != tc.want {
			t.Errorf("%s: %q, want %q", tc.target, got, tc.want)
		}
		for _, bad := range []string{"^", "example.com", "uuid.UUID", "time.Time", "*", "Invalid format"} {
			if strings.Contains(a.p.Detail+a.p.Errors[0].Message, bad) {
				t.Errorf("%s: the answer %q / %q shows %q", tc.target, a.p.Detail, a.p.Errors[0].Message, bad)
			}
		}
	}
	if a := send(h, "GET", "/api/v1/audit?actor=0192d4e0-7c1a-7b3e-9f00-123456789abc&since=2026-01-01T00:00:00Z", "super", "", ""); a.status != 200 {
		t.Errorf("valid audit parameters: %d %s %v", a.status, a.p.Detail, a.p.Errors)
	}
}
