package httpapi

import (
	"context"

	"accounts/internal/account"
)

// AuditService reads the audit trail. *account.Audit is the service's
// implementation.
type AuditService interface {
	ListAs(ctx context.Context, caller account.User, f account.AuditFilter) (account.AuditPage, error)
}

var _ AuditService = (*account.Audit)(nil)

// ListAudit is GET /api/v1/audit. The validator has already refused
// callers who are not super admins and malformed parameters; the service
// checks what the document cannot say (until after since, the cursor).
func (h handlers) ListAudit(ctx context.Context, req ListAuditRequestObject) (ListAuditResponseObject, error) {
	f := auditFilter(req.Params)
	if err := f.Validate(); err != nil {
		return nil, err
	}
	page, err := h.s.Audit.ListAs(ginOf(ctx).Request.Context(), caller(ctx), f)
	if err != nil {
		return nil, err
	}
	return ListAudit200JSONResponse{Body: AuditList{Events: page.Events, NextCursor: page.NextCursor}}, nil
}

// auditFilter reads the query of GET /audit, with the defaults
// openapi.yaml gives filled in by the validator.
func auditFilter(q ListAuditParams) account.AuditFilter {
	f := account.AuditFilter{ActorID: q.Actor, TargetID: q.Target}
	deref(&f.Limit, q.Limit)
	deref(&f.After, q.After)
	deref(&f.Since, q.Since)
	deref(&f.Until, q.Until)
	if q.Action != nil {
		f.Action = string(*q.Action)
	}
	return f
}
