package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// handlers implements StrictServerInterface, generated from openapi.yaml.
// By the time a method runs, the middleware of validate.go has checked the
// request against the document and authenticated the caller; a method
// calls a domain service and returns the typed answer, or an error that
// writeError turns into a problem.
type handlers struct{ s *server }

var _ StrictServerInterface = handlers{}

// ginOf returns the Gin context that the generated code passes as ctx.
func ginOf(ctx context.Context) *gin.Context { return ctx.(*gin.Context) }

// caller returns the authenticated user of the request.
func caller(ctx context.Context) account.User { return principalOf(ginOf(ctx)).User }

func (h handlers) Livez(context.Context, LivezRequestObject) (LivezResponseObject, error) {
	return Livez200JSONResponse{StatusJSONResponse{Body: Status{Status: "ok"}}}, nil
}

func (h handlers) Readyz(ctx context.Context, _ ReadyzRequestObject) (ReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ginOf(ctx).Request.Context(), h.s.ReadyTimeout)
	defer cancel()
	if err := h.s.Ready(ctx); err != nil {
		return nil, &account.Error{Code: account.CodeServiceUnavailable, Message: "not ready: " + err.Error(), RetryAfter: time.Second}
	}
	return Readyz200JSONResponse{StatusJSONResponse{Body: Status{Status: "ready"}}}, nil
}

// rawResponse writes a body that is already encoded, such as this API's
// own document.
type rawResponse struct {
	contentType string
	body        []byte
}

func (r rawResponse) VisitOpenapiResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", r.contentType)
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(r.body)
	return err
}

func (h handlers) Openapi(context.Context, OpenapiRequestObject) (OpenapiResponseObject, error) {
	return rawResponse{contentType: "application/json", body: h.s.doc}, nil
}

// handlerResponse lets an http.Handler answer, for /metrics.
type handlerResponse struct {
	handler http.Handler
	request *http.Request
}

func (r handlerResponse) VisitMetricsResponse(w http.ResponseWriter) error {
	r.handler.ServeHTTP(w, r.request)
	return nil
}

func (h handlers) Metrics(ctx context.Context, _ MetricsRequestObject) (MetricsResponseObject, error) {
	return handlerResponse{handler: h.s.Metrics, request: ginOf(ctx).Request}, nil
}

func (h handlers) SignUp(ctx context.Context, req SignUpRequestObject) (SignUpResponseObject, error) {
	c := ginOf(ctx)
	if h.s.SignUps != nil {
		// Before the hash, and whatever the name: the answer for a taken
		// name must stay username_taken, so this budget is what bounds
		// asking which names exist.
		if err := h.s.SignUps.ReserveSignUp(c.Request.Context(), clientAddress(c)); err != nil {
			return nil, err
		}
	}
	key, once, err := idempotencyKey(req.Params.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	if once {
		return h.createOnce(ctx, account.OnceCreate{New: *req.Body, Scope: "address:" + clientAddress(c), Key: key,
			Render: createdAnswer("/api/v1/account")})
	}
	u, err := h.s.Users.SignUp(c.Request.Context(), *req.Body)
	if err != nil {
		return nil, err
	}
	// Location is where the new user reads the account once logged in;
	// /users/{id} answers only admins.
	return SignUp201JSONResponse{SignedUpJSONResponse{Body: Created{Id: u.ID}, Headers: SignedUpResponseHeaders{Location: "/api/v1/account"}}}, nil
}

func created(u account.User) CreatedJSONResponse {
	return CreatedJSONResponse{Body: Created{Id: u.ID}, Headers: CreatedResponseHeaders{Location: "/api/v1/users/" + u.ID.String()}}
}

// Login opens a session. The session service throttles it on the
// client's address and device token (cookie or X-Device-Token header); a
// success sets the session cookie and hands out a new device token.
func (h handlers) Login(ctx context.Context, req LoginRequestObject) (LoginResponseObject, error) {
	c := ginOf(ctx)
	l, err := h.s.Sessions.Login(c.Request.Context(), account.Credentials{
		Username: req.Body.Username, Password: req.Body.Password, From: h.s.clientOf(c),
	})
	if err != nil {
		return nil, err
	}
	h.s.setCookie(c, l.Token, l.ExpiresAt)
	h.s.setDevice(c, l.Device)
	return Login200JSONResponse{Body: session(l)}, nil
}

func session(l account.Login) Login {
	return Login{AccessToken: l.Token, TokenType: Bearer, ExpiresAt: l.ExpiresAt.UTC()}
}

// clientOf is who sends the request, for the throttle: its address and
// the device token it presents.
func (s *server) clientOf(c *gin.Context) account.Client {
	device := c.GetHeader(deviceHeader)
	if ck, err := c.Request.Cookie(s.deviceCookieName()); device == "" && err == nil {
		device = ck.Value
	}
	return account.Client{Address: clientAddress(c), Device: device, UserAgent: c.Request.UserAgent()}
}

// clientAddress is the client's IP as a throttle key: the peer address,
// or the one a trusted proxy put in X-Forwarded-For. IPv6 clients are
// keyed by their /64, which one host usually controls whole, without a
// zone. Every request gets a key: one whose address cannot be parsed is
// keyed by what the connection says, never by an empty string shared with
// others.
func clientAddress(c *gin.Context) string {
	raw := c.ClientIP()
	if raw == "" {
		raw = c.Request.RemoteAddr
		if host, _, err := net.SplitHostPort(raw); err == nil {
			raw = host
		}
	}
	ip, err := netip.ParseAddr(raw)
	if err != nil {
		return "raw:" + raw
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

func (h handlers) GetAccount(ctx context.Context, req GetAccountRequestObject) (GetAccountResponseObject, error) {
	u := caller(ctx)
	if noneMatch(req.Params.IfNoneMatch, u) {
		return GetAccount304Response{Headers: NotModifiedResponseHeaders{Etag: u.ETag()}}, nil
	}
	return GetAccount200JSONResponse{withETag(u)}, nil
}

// withETag is the answer of a user with its entity tag.
func withETag(u account.User) UserWithETagJSONResponse {
	return UserWithETagJSONResponse{Body: u, Headers: UserWithETagResponseHeaders{Etag: u.ETag()}}
}

// noneMatch reports whether an If-None-Match names u's entity tag, or is
// "*": the client holds u as it is. The comparison is weak (RFC 9110
// 13.1.2), so a W/ prefix does not count.
func noneMatch(h *string, u account.User) bool {
	if h == nil {
		return false
	}
	tag := u.ETag()
	for _, t := range strings.Split(*h, ",") {
		if t = strings.TrimPrefix(strings.TrimSpace(t), "W/"); t == tag || t == "*" {
			return true
		}
	}
	return false
}

// PatchAccount applies a merge patch to the caller's own profile.
func (h handlers) PatchAccount(ctx context.Context, req PatchAccountRequestObject) (PatchAccountResponseObject, error) {
	u, err := h.s.Users.EditProfile(ginOf(ctx).Request.Context(), account.ProfileEdit{Caller: caller(ctx), Patch: *req.Body})
	if err != nil {
		return nil, err
	}
	return PatchAccount200JSONResponse{withETag(u)}, nil
}

// PatchUser applies a merge patch to the profile of a user the caller
// manages.
func (h handlers) PatchUser(ctx context.Context, req PatchUserRequestObject) (PatchUserResponseObject, error) {
	u, err := h.s.Users.EditProfile(ginOf(ctx).Request.Context(), account.ProfileEdit{Caller: caller(ctx), Target: req.Id, Patch: *req.Body})
	if err != nil {
		return nil, err
	}
	return PatchUser200JSONResponse{withETag(u)}, nil
}

func (h handlers) ChangePassword(ctx context.Context, req ChangePasswordRequestObject) (ChangePasswordResponseObject, error) {
	c := ginOf(ctx)
	l, err := h.s.Sessions.ChangePassword(c.Request.Context(), principalOf(c), account.PasswordChange{
		Current: req.Body.CurrentPassword, New: req.Body.NewPassword, From: h.s.clientOf(c),
	})
	if err != nil {
		return nil, err
	}
	// Every session of the caller ended, this one included: the answer
	// carries the new one, and a device token of the new password, as a
	// login's does.
	h.s.setCookie(c, l.Token, l.ExpiresAt)
	h.s.setDevice(c, l.Device)
	return ChangePassword200JSONResponse{Body: session(l)}, nil
}

func (h handlers) CreateUser(ctx context.Context, req CreateUserRequestObject) (CreateUserResponseObject, error) {
	key, once, err := idempotencyKey(req.Params.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	if once {
		me := caller(ctx)
		return h.createOnce(ctx, account.OnceCreate{Caller: &me, New: *req.Body, Scope: "user:" + me.ID.String(), Key: key,
			Render: createdAnswer("")})
	}
	u, err := h.s.Users.Create(ginOf(ctx).Request.Context(), caller(ctx), *req.Body)
	if err != nil {
		return nil, err
	}
	return CreateUser201JSONResponse{created(u)}, nil
}

func (h handlers) ListUsers(ctx context.Context, req ListUsersRequestObject) (ListUsersResponseObject, error) {
	page, err := h.s.Users.List(ginOf(ctx).Request.Context(), caller(ctx), listParams(req.Params))
	if err != nil {
		return nil, err
	}
	users := page.Users
	if users == nil {
		users = []account.User{}
	}
	return ListUsers200JSONResponse{Body: UserList{Users: users, Total: page.Total, TotalExact: page.TotalExact,
		Limit: page.Limit, Offset: page.Offset, NextCursor: page.NextCursor}}, nil
}

// listParams reads the query of GET /users. checkParameters has checked
// each parameter and filled in the defaults openapi.yaml gives.
func listParams(q ListUsersParams) account.ListParams {
	var p account.ListParams
	deref(&p.Limit, q.Limit)
	deref(&p.Offset, q.Offset)
	deref(&p.After, q.After)
	if q.Sort != nil {
		p.Sort = string(*q.Sort)
	}
	p.Desc = q.Order != nil && *q.Order == Desc
	p.Role = q.Role
	p.IsActive = q.IsActive
	p.Username = q.Username
	return p
}

func deref[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func (h handlers) GetUser(ctx context.Context, req GetUserRequestObject) (GetUserResponseObject, error) {
	c := ginOf(ctx)
	u, err := h.s.Users.Get(c.Request.Context(), principalOf(c), req.Id)
	if err != nil {
		return nil, err
	}
	if noneMatch(req.Params.IfNoneMatch, u) {
		return GetUser304Response{Headers: NotModifiedResponseHeaders{Etag: u.ETag()}}, nil
	}
	return GetUser200JSONResponse{withETag(u)}, nil
}

func (h handlers) SetUserPassword(ctx context.Context, req SetUserPasswordRequestObject) (SetUserPasswordResponseObject, error) {
	if err := h.s.Users.SetPassword(ginOf(ctx).Request.Context(), caller(ctx), req.Id, req.Body.Password); err != nil {
		return nil, err
	}
	return SetUserPassword204Response{}, nil
}

func (h handlers) GrantAdmin(ctx context.Context, req GrantAdminRequestObject) (GrantAdminResponseObject, error) {
	if err := h.s.Users.SetAdmin(ginOf(ctx).Request.Context(), caller(ctx), req.Id, true); err != nil {
		return nil, err
	}
	return GrantAdmin204Response{}, nil
}

func (h handlers) RevokeAdmin(ctx context.Context, req RevokeAdminRequestObject) (RevokeAdminResponseObject, error) {
	if err := h.s.Users.SetAdmin(ginOf(ctx).Request.Context(), caller(ctx), req.Id, false); err != nil {
		return nil, err
	}
	return RevokeAdmin204Response{}, nil
}

func (h handlers) Activate(ctx context.Context, req ActivateRequestObject) (ActivateResponseObject, error) {
	if err := h.s.Users.SetActive(ginOf(ctx).Request.Context(), caller(ctx), req.Id, true); err != nil {
		return nil, err
	}
	return Activate204Response{}, nil
}

func (h handlers) Deactivate(ctx context.Context, req DeactivateRequestObject) (DeactivateResponseObject, error) {
	if err := h.s.Users.SetActive(ginOf(ctx).Request.Context(), caller(ctx), req.Id, false); err != nil {
		return nil, err
	}
	return Deactivate204Response{}, nil
}

// DeleteUser is a soft delete: the user is deactivated, as the schema's
// SoftDeleteMixin turns every delete into a deactivation, with its rules
// and its audit entry.
func (h handlers) DeleteUser(ctx context.Context, req DeleteUserRequestObject) (DeleteUserResponseObject, error) {
	if err := h.s.Users.SetActive(ginOf(ctx).Request.Context(), caller(ctx), req.Id, false); err != nil {
		return nil, err
	}
	return DeleteUser204Response{}, nil
}
