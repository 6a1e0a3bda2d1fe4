package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"accounts/internal/account"
)

// Request types. Each is decoded strictly: unknown fields are rejected.

type credentialsRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

type setPasswordRequest struct {
	Password string `json:"password"`
}

// Response types. Users are always encoded through userResponse, which has
// no field for the hash.

type userResponse struct {
	ID        uuid.UUID `json:"id"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newUserResponse(u account.User) userResponse {
	return userResponse{
		ID:        u.ID,
		Username:  u.Username,
		Role:      string(u.Role),
		IsActive:  u.IsActive,
		CreatedAt: u.CreatedAt.UTC(),
		UpdatedAt: u.UpdatedAt.UTC(),
	}
}

type createdResponse struct {
	ID uuid.UUID `json:"id"`
}

type loginResponse struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresAt   time.Time `json:"expires_at"`
}

type userListResponse struct {
	Users      []userResponse `json:"users"`
	Total      int            `json:"total"`
	TotalExact bool           `json:"total_exact"`
	Limit      int            `json:"limit"`
	Offset     int            `json:"offset"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

type statusResponse struct {
	Status string `json:"status"`
}

func (s *server) livez(c *gin.Context) {
	c.JSON(http.StatusOK, statusResponse{Status: "ok"})
}

func (s *server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.ReadyTimeout)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		writeProblem(c, &account.Error{Code: account.CodeServiceUnavailable, Message: "not ready: " + err.Error(), RetryAfter: time.Second})
		return
	}
	c.JSON(http.StatusOK, statusResponse{Status: "ready"})
}

func (s *server) openapi(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", s.doc)
}

func (s *server) signUp(c *gin.Context) {
	var req credentialsRequest
	if err := s.decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if s.SignUps != nil {
		// Before the hash, and whatever the name: the answer for a taken
		// name must stay username_taken, so this budget is what bounds
		// asking which names exist.
		if err := s.SignUps.ReserveSignUp(c.Request.Context(), clientAddress(c)); err != nil {
			s.writeError(c, err)
			return
		}
	}
	u, err := s.Users.SignUp(c.Request.Context(), req.Username, req.Password)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", "/api/v1/users/"+u.ID.String())
	c.JSON(http.StatusCreated, createdResponse{ID: u.ID})
}

// login opens a session. The session service throttles it on the
// client's address and device token (cookie or X-Device-Token header);
// a success sets the session cookie and hands out a new device token.
func (s *server) login(c *gin.Context) {
	var req credentialsRequest
	if err := s.decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	l, err := s.Sessions.Login(c.Request.Context(), req.Username, req.Password, s.clientOf(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.setCookie(c, l.Token, l.ExpiresAt)
	s.setDevice(c, l.Device)
	c.JSON(http.StatusOK, loginResponse{AccessToken: l.Token, TokenType: "Bearer", ExpiresAt: l.ExpiresAt.UTC()})
}

// clientOf is who sends the request, for the throttle.
func (s *server) clientOf(c *gin.Context) account.Client {
	device := c.GetHeader(deviceHeader)
	if ck, err := c.Request.Cookie(s.deviceCookieName()); device == "" && err == nil {
		device = ck.Value
	}
	return account.Client{Address: clientAddress(c), Device: device}
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

func (s *server) getAccount(c *gin.Context) {
	c.JSON(http.StatusOK, newUserResponse(principalOf(c).User))
}

func (s *server) changePassword(c *gin.Context) {
	var req changePasswordRequest
	if err := s.decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	l, err := s.Sessions.ChangePassword(c.Request.Context(), principalOf(c), account.Client{Address: clientAddress(c)}, req.CurrentPassword, req.NewPassword)
	if err != nil {
		s.writeError(c, err)
		return
	}
	// Every session of the caller ended, this one included: the answer
	// carries the new one, as a login's does.
	s.setCookie(c, l.Token, l.ExpiresAt)
	c.JSON(http.StatusOK, loginResponse{AccessToken: l.Token, TokenType: "Bearer", ExpiresAt: l.ExpiresAt.UTC()})
}

func (s *server) logout(c *gin.Context) {
	if err := s.Sessions.Logout(c.Request.Context(), principalOf(c)); err != nil {
		s.writeError(c, err)
		return
	}
	s.clearCookie(c)
	c.Status(http.StatusNoContent)
}

func (s *server) createUser(c *gin.Context) {
	var req createUserRequest
	if err := s.decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	u, err := s.Users.Create(c.Request.Context(), principalOf(c).User, req.Username, req.Password, account.Role(req.Role))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Location", "/api/v1/users/"+u.ID.String())
	c.JSON(http.StatusCreated, createdResponse{ID: u.ID})
}

func (s *server) listUsers(c *gin.Context) {
	caller := principalOf(c).User
	// Authorization comes before parameter checks, so a plain user gets 403
	// whatever the query says.
	if err := account.Authorize(caller, account.ActionViewUsers, account.User{}); err != nil {
		s.writeError(c, err)
		return
	}
	p, err := listParams(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	page, err := s.Users.List(c.Request.Context(), caller, p)
	if err != nil {
		s.writeError(c, err)
		return
	}
	resp := userListResponse{Users: make([]userResponse, 0, len(page.Users)), Total: page.Total, TotalExact: page.TotalExact,
		Limit: page.Limit, Offset: page.Offset, NextCursor: page.NextCursor}
	for _, u := range page.Users {
		resp.Users = append(resp.Users, newUserResponse(u))
	}
	c.JSON(http.StatusOK, resp)
}

func (s *server) getUser(c *gin.Context) {
	u, err := s.Users.Get(c.Request.Context(), principalOf(c).User, idOf(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(u))
}

func (s *server) setUserPassword(c *gin.Context) {
	var req setPasswordRequest
	if err := s.decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	s.noContent(c, s.Users.SetPassword(c.Request.Context(), principalOf(c).User, idOf(c), req.Password))
}

func (s *server) grantAdmin(c *gin.Context) {
	s.noContent(c, s.Users.SetAdmin(c.Request.Context(), principalOf(c).User, idOf(c), true))
}

func (s *server) revokeAdmin(c *gin.Context) {
	s.noContent(c, s.Users.SetAdmin(c.Request.Context(), principalOf(c).User, idOf(c), false))
}

func (s *server) activate(c *gin.Context) {
	s.noContent(c, s.Users.SetActive(c.Request.Context(), principalOf(c).User, idOf(c), true))
}

func (s *server) deactivate(c *gin.Context) {
	s.noContent(c, s.Users.SetActive(c.Request.Context(), principalOf(c).User, idOf(c), false))
}

func (s *server) noContent(c *gin.Context, err error) {
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
