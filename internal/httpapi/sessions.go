package httpapi

import (
	"context"

	"github.com/google/uuid"

	"accounts/internal/account"
)

// The operations on sessions: a user's list of their own, ending one of
// them, logout by scope, and an admin ending all of a user's. The session
// service decides which rows are the caller's, so another user's session
// id is answered as an unknown one.

func (h handlers) Logout(ctx context.Context, req LogoutRequestObject) (LogoutResponseObject, error) {
	c := ginOf(ctx)
	scope := account.LogoutLocal
	if req.Params.Scope != nil {
		scope = account.LogoutScope(*req.Params.Scope)
	}
	if err := h.s.Sessions.Logout(c.Request.Context(), principalOf(c), scope); err != nil {
		return nil, err
	}
	if scope != account.LogoutOthers {
		h.s.clearCookie(c)
	}
	return Logout204Response{}, nil
}

func (h handlers) ListSessions(ctx context.Context, _ ListSessionsRequestObject) (ListSessionsResponseObject, error) {
	c := ginOf(ctx)
	list, err := h.s.Sessions.List(c.Request.Context(), principalOf(c))
	if err != nil {
		return nil, err
	}
	return ListSessions200JSONResponse{Body: SessionList{Sessions: list}}, nil
}

func (h handlers) RevokeSession(ctx context.Context, req RevokeSessionRequestObject) (RevokeSessionResponseObject, error) {
	c := ginOf(ctx)
	p := principalOf(c)
	if err := h.s.Sessions.Revoke(c.Request.Context(), p, uuid.UUID(req.Id)); err != nil {
		return nil, err
	}
	if p.Session.ID == uuid.UUID(req.Id) {
		h.s.clearCookie(c)
	}
	return RevokeSession204Response{}, nil
}

func (h handlers) EndUserSessions(ctx context.Context, req EndUserSessionsRequestObject) (EndUserSessionsResponseObject, error) {
	if err := h.s.Users.EndSessions(ginOf(ctx).Request.Context(), caller(ctx), req.Id); err != nil {
		return nil, err
	}
	return EndUserSessions204Response{}, nil
}
