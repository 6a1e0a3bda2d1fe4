package httpapi

import (
	"context"

	"accounts/internal/account"
)

// AuditService reads the audit trail. *account.Audit is the service's
// implementation.
type AuditService interface {
	Read(ctx context.Context, f account.AuditFilter) (account.AuditPage, error)
}

var _ AuditService = (*account.Audit)(nil)

// ListAudit is GET /api/v1/audit. checkRole has authorized the caller
// (account.ActionReadAudit) and checkParameters has checked the query;
// the service checks what the document cannot say (until after since,
// the cursor).
func (h handlers) ListAudit(ctx context.Context, req ListAuditRequestObject) (ListAuditResponseObject, error) {
	page, err := h.s.Audit.Read(ginOf(ctx).Request.Context(), auditFilter(req.Params))
	if err != nil {
		return nil, err
	}
	return ListAudit200JSONResponse{Body: AuditList{Events: page.Events, NextCursor: page.NextCursor}}, nil
}

// auditFilter reads the query of GET /audit, with the defaults
// openapi.yaml gives filled in by checkParameters.
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
