package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"accounts/internal/account"
)

// AuditService reads the audit trail. *account.Audit is the service's
// implementation.
type AuditService interface {
	ListAs(ctx context.Context, caller account.User, f account.AuditFilter) (account.AuditPage, error)
}

var _ AuditService = (*account.Audit)(nil)

type auditEventResponse struct {
	ID            uuid.UUID         `json:"id"`
	OccurredAt    time.Time         `json:"occurred_at"`
	Action        string            `json:"action"`
	ActorID       *uuid.UUID        `json:"actor_id"`
	ActorName     string            `json:"actor_name"`
	TargetID      *uuid.UUID        `json:"target_id"`
	TargetName    string            `json:"target_name"`
	RequestID     string            `json:"request_id"`
	ClientAddress string            `json:"client_address"`
	Details       map[string]string `json:"details"`
}

type auditListResponse struct {
	Events     []auditEventResponse `json:"events"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

// listAudit is GET /api/v1/audit: super admins only, checked before the
// query is read, so anyone else gets 403 whatever it says.
func (s *server) listAudit(c *gin.Context) {
	caller := principalOf(c).User
	if !caller.IsActive || caller.Role != account.RoleSuperAdmin {
		s.writeError(c, account.Errorf(account.CodeForbidden, "only a super admin reads the audit trail"))
		return
	}
	if s.Audit == nil {
		s.noRoute(c)
		return
	}
	f, err := auditFilter(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	page, err := s.Audit.ListAs(c.Request.Context(), caller, f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	resp := auditListResponse{Events: make([]auditEventResponse, 0, len(page.Events)), NextCursor: page.NextCursor}
	for _, e := range page.Events {
		d := e.Details
		if d == nil {
			d = map[string]string{}
		}
		resp.Events = append(resp.Events, auditEventResponse{ID: e.ID, OccurredAt: e.OccurredAt.UTC(), Action: e.Action,
			ActorID: e.ActorID, ActorName: e.ActorName, TargetID: e.TargetID, TargetName: e.TargetName,
			RequestID: e.RequestID, ClientAddress: e.ClientAddress, Details: d})
	}
	c.JSON(http.StatusOK, resp)
}

// auditFilter reads the query of GET /audit, naming each malformed value.
func auditFilter(c *gin.Context) (account.AuditFilter, error) {
	f := account.AuditFilter{Limit: 50}
	var fields []account.FieldError
	bad := func(field, msg string) { fields = append(fields, account.FieldError{Field: field, Message: msg}) }
	q := c.Request.URL.Query()
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil {
			bad("limit", "must be a whole number between 1 and 100")
		}
		f.Limit = n
	}
	for _, p := range []struct {
		name string
		dst  **uuid.UUID
	}{{"actor", &f.ActorID}, {"target", &f.TargetID}} {
		if q.Has(p.name) {
			id, err := uuid.Parse(q.Get(p.name))
			if err != nil {
				bad(p.name, "must be a user id (UUID)")
				continue
			}
			*p.dst = &id
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if q.Has(p.name) {
			t, err := time.Parse(time.RFC3339, q.Get(p.name))
			if err != nil {
				bad(p.name, "must be an RFC 3339 time")
			}
			*p.dst = t
		}
	}
	f.Action = q.Get("action")
	f.After = q.Get("after")
	if len(fields) > 0 {
		return f, &account.Error{Code: account.CodeValidationFailed, Message: "the request has invalid fields", Fields: fields}
	}
	return f, f.Validate()
}
