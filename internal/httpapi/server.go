// Package httpapi is the REST API of the service on Gin, and the only
// package that imports Gin. openapi.yaml is its contract: the request and
// response types and the server interface are generated from it
// (api.gen.go), and every request is checked against it before a handler
// runs. Handlers call a domain service from package account and return a
// typed answer; every error goes through one function that writes
// application/problem+json.
package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"accounts/internal/account"
)

func init() {
	// Debug mode prints the route table and warnings to stdout; the
	// service logs through slog only.
	gin.SetMode(gin.ReleaseMode)
}

// Config holds the HTTP-level settings of the API.
type Config struct {
	// CookieSecure marks the access_token cookie Secure.
	CookieSecure bool
	// DeviceLifetime is how long the device cookie is kept: as long as
	// its token is trusted (0: a year).
	DeviceLifetime time.Duration
	// MaxBodyBytes is the largest request body accepted (413 above).
	MaxBodyBytes int64
	// BodyBudgetBytes is what the bodies being read may hold together
	// (bodyread.go); 0 means 8 × MaxBodyBytes.
	BodyBudgetBytes int64
	// BodyReadTimeout is the longest pause between two reads of a body;
	// 0 means 5 s.
	BodyReadTimeout time.Duration
	// BodyMinRate is the slowest a body may arrive beyond
	// BodyReadTimeout, in bytes a second; 0 means 64 KiB/s.
	BodyMinRate int
	// TrustedProxies lists proxy addresses or CIDRs whose ForwardedHeader
	// names the client; empty trusts none.
	TrustedProxies []string
	// ForwardedHeader is the one header a trusted proxy names the client
	// in; "" means X-Forwarded-For.
	ForwardedHeader string
	// ReadyTimeout bounds the readiness check of /readyz; 0 means 2 s.
	ReadyTimeout time.Duration
	// Docs serves the interactive documentation (Swagger UI) at /docs.
	Docs bool
	// PublicOrigins are the origins (scheme://host[:port]) the service is
	// reached at besides its own Host; a cookie-authenticated state change
	// from another origin must come from one of them (or from a
	// credentialed CORSOrigins entry).
	PublicOrigins []string
	// CORSOrigins are the origins whose scripts may call the API across
	// origins (cors.go); "*" is any origin, without credentials. Empty
	// turns CORS off.
	CORSOrigins []string
}

// UserService is what the handlers call on users. *account.Users is the
// service's implementation; the interface is declared here, where it is
// used, so that another storage (the raw-pgx baseline in bench/) can sit
// behind the same router and middleware.
type UserService interface {
	SignUp(ctx context.Context, n account.NewUser) (account.User, error)
	Create(ctx context.Context, caller account.User, n account.NewUser) (account.User, error)
	Get(ctx context.Context, p account.Principal, id uuid.UUID) (account.User, error)
	List(ctx context.Context, caller account.User, p account.ListParams) (account.Page, error)
	SetPassword(ctx context.Context, caller account.User, id uuid.UUID, pw string) error
	SetAdmin(ctx context.Context, caller account.User, id uuid.UUID, admin bool) error
	SetActive(ctx context.Context, caller account.User, id uuid.UUID, active bool) error
	EditProfile(ctx context.Context, e account.ProfileEdit) (account.User, error)
	EndSessions(ctx context.Context, caller account.User, id uuid.UUID) error
	CreateOnce(ctx context.Context, c account.OnceCreate) (account.Answer, error)
}

// SessionService is what the handlers and the authentication middleware
// call on sessions. *account.Sessions is the service's implementation.
type SessionService interface {
	Login(ctx context.Context, c account.Credentials) (account.Login, error)
	AuthenticateReading(ctx context.Context, token string, target uuid.UUID) (account.Principal, error)
	Logout(ctx context.Context, p account.Principal, scope account.LogoutScope) error
	List(ctx context.Context, p account.Principal) ([]account.SessionInfo, error)
	Revoke(ctx context.Context, p account.Principal, id uuid.UUID) error
	ChangePassword(ctx context.Context, p account.Principal, c account.PasswordChange) (account.Login, error)
}

// SignUpLimiter bounds sign-ups per client address. *account.Guard is the
// service's implementation.
type SignUpLimiter interface {
	ReserveSignUp(ctx context.Context, address string) error
}

// The service's own implementations satisfy the interfaces.
var (
	_ UserService    = (*account.Users)(nil)
	_ SessionService = (*account.Sessions)(nil)
	_ SignUpLimiter  = (*account.Guard)(nil)
)

// Deps are what the API needs from the rest of the service.
type Deps struct {
	Users    UserService
	Sessions SessionService
	// Log receives internal errors and recovered panics.
	Log *slog.Logger
	// Ready reports whether the service can take traffic (database up and
	// every migration of the build applied); its error is shown to the
	// client, so it must say why without secrets.
	Ready func(context.Context) error
	// Behind, when set, tells without a query whether the database lacks
	// migrations of this build: while it returns an error (503, with
	// Retry-After), every /api/ request is answered with it, instead of a
	// 500 from a table that does not exist yet.
	Behind func() error
	// Audit, when set, serves GET /api/v1/audit to super admins.
	Audit AuditService
	// SignUps, when set, bounds sign-ups per client address. (Logins are
	// throttled by the session service.)
	SignUps SignUpLimiter
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// ObserveHTTP, when set, is told of every answered request: its method,
	// route template ("" when none matched), status and latency.
	ObserveHTTP func(method, route string, status int, d time.Duration)
	// Now is the clock for cookie lifetimes; nil means time.Now. It must be
	// the clock the session service uses.
	Now func() time.Time
	Config
}

type server struct {
	Deps
	// doc is openapi.yaml as JSON, for GET /openapi.json; docsDoc is the
	// one /docs shows (docsDocument).
	doc, docsDoc []byte
	// ops are the document's operations by the route that serves each.
	ops map[routeKey]*operation
	// budget is what the bodies being read share (bodyread.go).
	budget *bodyBudget
	// csrf is the cross-origin check of cookie-authenticated requests
	// (requireSession), trusting PublicOrigins and the credentialed
	// CORSOrigins.
	csrf *http.CrossOriginProtection
	// unavailable rate-limits the log of an outage's 503s.
	unavailable logLimit
}

// New returns the API as an http.Handler.
func New(d Deps) (http.Handler, error) {
	e, err := newEngine(d)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func newEngine(d Deps) (*gin.Engine, error) {
	if d.Users == nil || d.Sessions == nil || d.Log == nil {
		return nil, fmt.Errorf("httpapi: Users, Sessions and Log are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.BodyBudgetBytes < d.MaxBodyBytes {
		d.BodyBudgetBytes = 8 * d.MaxBodyBytes
	}
	if d.BodyReadTimeout <= 0 {
		d.BodyReadTimeout = 5 * time.Second
	}
	if d.BodyMinRate <= 0 {
		d.BodyMinRate = 64 << 10
	}
	if d.Ready == nil {
		d.Ready = func(context.Context) error { return nil }
	}
	if d.ReadyTimeout <= 0 {
		d.ReadyTimeout = 2 * time.Second
	}
	d.Log = slog.New(LogHandler(d.Log.Handler()))
	doc, err := Document()
	if err != nil {
		return nil, err
	}
	spec, err := loadSpec()
	if err != nil {
		return nil, err
	}
	ops, err := operations(spec)
	if err != nil {
		return nil, err
	}
	s := &server{Deps: d, doc: doc, ops: ops, budget: newBodyBudget(d.BodyBudgetBytes)}
	if d.Docs {
		if s.docsDoc, err = docsDocument(); err != nil {
			return nil, err
		}
	}
	if s.csrf, err = crossOriginProtection(d.PublicOrigins, d.CORSOrigins); err != nil {
		return nil, err
	}
	e := gin.New()
	// Exact paths only: a redirect to a "fixed" path would answer a typo
	// with a 301 instead of a problem.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	var proxies []string
	for _, p := range d.TrustedProxies {
		if p = strings.TrimSpace(p); p != "" {
			proxies = append(proxies, p)
		}
	}
	// Gin trusts every proxy by default, which would let any client name
	// its own address in X-Forwarded-For and escape the login throttle.
	// It also reads X-Real-IP, which a proxy that sets only
	// X-Forwarded-For passes on from the client as sent: one header, the
	// configured one, names the client.
	e.RemoteIPHeaders = []string{cmp.Or(d.ForwardedHeader, "X-Forwarded-For")}
	if err := e.SetTrustedProxies(proxies); err != nil {
		return nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	s.routes(e)
	return e, nil
}
