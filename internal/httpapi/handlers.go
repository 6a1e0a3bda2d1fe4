package httpapi

import (
	"context"
	"net"
	"net/http"
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
	return handlerResponse{handler: h.s.Deps.Metrics, request: ginOf(ctx).Request}, nil
}

func (h handlers) SignUp(ctx context.Context, req SignUpRequestObject) (SignUpResponseObject, error) {
	u, err := h.s.Users.SignUp(ginOf(ctx).Request.Context(), req.Body.Username, req.Body.Password)
	if err != nil {
		return nil, err
	}
	return SignUp201JSONResponse{created(u)}, nil
}

func created(u account.User) CreatedJSONResponse {
	return CreatedJSONResponse{Body: Created{Id: u.ID}, Headers: CreatedResponseHeaders{Location: "/api/v1/users/" + u.ID.String()}}
}

// Login checks the throttle for the username and the client address
// before any work, counts each invalid_credentials against both, and
// forgets the username's failures after a success.
func (h handlers) Login(ctx context.Context, req LoginRequestObject) (LoginResponseObject, error) {
	c := ginOf(ctx)
	userKey := strings.ToLower(req.Body.Username)
	addrKey := clientAddress(c)
	if wait := max(h.s.UsernameThrottle.Check(userKey), h.s.AddressThrottle.Check(addrKey)); wait > 0 {
		return nil, &account.Error{Code: account.CodeTooManyAttempts,
			Message: "too many failed logins; try again later", RetryAfter: wait}
	}
	l, err := h.s.Sessions.Login(c.Request.Context(), req.Body.Username, req.Body.Password)
	if err != nil {
		if account.ErrorCode(err) == account.CodeInvalidCredentials {
			h.s.UsernameThrottle.Fail(userKey)
			h.s.AddressThrottle.Fail(addrKey)
		}
		return nil, err
	}
	h.s.UsernameThrottle.Reset(userKey)
	// The generated response sets the Set-Cookie header the document
	// requires; setCookie builds it.
	h.s.setCookie(c, l.Token, l.ExpiresAt)
	return Login200JSONResponse{
		Body:    Login{AccessToken: l.Token, TokenType: Bearer, ExpiresAt: l.ExpiresAt.UTC()},
		Headers: Login200ResponseHeaders{SetCookie: c.Writer.Header().Get("Set-Cookie")},
	}, nil
}

// clientAddress is the client's IP: the peer address, or the one a
// trusted proxy put in X-Forwarded-For. IPv6 clients are keyed by their
// /64, which one host usually controls whole.
func clientAddress(c *gin.Context) string {
	ip := net.ParseIP(c.ClientIP())
	if ip == nil {
		return c.ClientIP()
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

func (h handlers) GetAccount(ctx context.Context, _ GetAccountRequestObject) (GetAccountResponseObject, error) {
	return GetAccount200JSONResponse{Body: caller(ctx)}, nil
}

func (h handlers) ChangePassword(ctx context.Context, req ChangePasswordRequestObject) (ChangePasswordResponseObject, error) {
	c := ginOf(ctx)
	p := principalOf(c)
	if err := h.s.Users.ChangeOwnPassword(c.Request.Context(), p.User, p.Session.ID, req.Body.CurrentPassword, req.Body.NewPassword); err != nil {
		return nil, err
	}
	return ChangePassword204Response{}, nil
}

func (h handlers) Logout(ctx context.Context, _ LogoutRequestObject) (LogoutResponseObject, error) {
	c := ginOf(ctx)
	if err := h.s.Sessions.Logout(c.Request.Context(), principalOf(c)); err != nil {
		return nil, err
	}
	h.s.clearCookie(c)
	return Logout204Response{}, nil
}

func (h handlers) CreateUser(ctx context.Context, req CreateUserRequestObject) (CreateUserResponseObject, error) {
	var role account.Role
	if req.Body.Role != nil {
		role = account.Role(*req.Body.Role)
	}
	u, err := h.s.Users.Create(ginOf(ctx).Request.Context(), caller(ctx), req.Body.Username, req.Body.Password, role)
	if err != nil {
		return nil, err
	}
	return CreateUser201JSONResponse{created(u)}, nil
}

func (h handlers) ListUsers(ctx context.Context, req ListUsersRequestObject) (ListUsersResponseObject, error) {
	p := listParams(req.Params)
	if err := p.Validate(); err != nil {
		return nil, err
	}
	page, err := h.s.Users.List(ginOf(ctx).Request.Context(), caller(ctx), p)
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

// listParams reads the query of GET /users. The validator has checked
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
	return p
}

func deref[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func (h handlers) GetUser(ctx context.Context, req GetUserRequestObject) (GetUserResponseObject, error) {
	u, err := h.s.Users.Get(ginOf(ctx).Request.Context(), caller(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return GetUser200JSONResponse{Body: u}, nil
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
