package httpapi

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"accounts/internal/account"
)

// cookieName is the session cookie; cookiePath limits it to the API. A
// Secure cookie is a __Host- cookie instead, which browsers accept only
// when Secure, with Path=/ and no Domain: no subdomain or plain-HTTP page
// can then plant or overwrite it.
const (
	cookieName = "access_token"
	cookiePath = "/api/v1"
)

func (s *server) cookieName() string {
	if s.CookieSecure {
		return "__Host-" + cookieName
	}
	return cookieName
}

func (s *server) cookiePath() string {
	if s.CookieSecure {
		return "/"
	}
	return cookiePath
}

// principalKey holds the caller (account.Principal) in the gin context.
const principalKey = "httpapi.principal"

// credential is the token a request presents and where it came from.
type credential struct {
	token      string
	fromCookie bool
	present    bool
	// malformed is a present Authorization header that is not
	// "Bearer <token>".
	malformed bool
}

// credentialOf finds the session token: an Authorization: Bearer header
// wins over the cookie, so a non-browser client is never confused by a
// stale cookie jar.
func credentialOf(c *gin.Context, cookieName string) credential {
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return credential{present: true, malformed: true}
		}
		return credential{token: strings.TrimSpace(token), present: true}
	}
	if ck, err := c.Request.Cookie(cookieName); err == nil && ck.Value != "" {
		return credential{token: ck.Value, fromCookie: true, present: true}
	}
	return credential{}
}

// requireSession authenticates the request and puts the caller in the
// context: 401 without a valid session, 403 when the user has been
// deactivated (which also ends all of that user's sessions, in the session
// service). A cookie-authenticated state change must also pass the CSRF
// check (crossOriginProtection). A session close to expiry is extended, and the cookie with it.
func (s *server) requireSession(c *gin.Context) {
	cred := credentialOf(c, s.cookieName())
	if !cred.present || cred.malformed {
		msg := "a valid session is required; log in first"
		if cred.malformed {
			msg = "the Authorization header must be \"Bearer <token>\""
		}
		c.Writer.Header()[wwwAuthenticate] = bearerChallenge
		s.writeError(c, account.Errorf(account.CodeUnauthenticated, "%s", msg))
		return
	}
	p, err := s.Sessions.AuthenticateReading(c.Request.Context(), cred.token, readTarget(c, s.operationOf(c)))
	if err != nil {
		if account.ErrorCode(err) == account.CodeUnauthenticated {
			c.Writer.Header()[wwwAuthenticate] = invalidTokenChallenge
			if cred.fromCookie {
				s.clearCookie(c)
			}
		}
		s.writeError(c, err)
		return
	}
	if cred.fromCookie && s.csrf.Check(c.Request) != nil {
		s.writeError(c, account.Errorf(account.CodeCSRFRejected,
			"a cookie-authenticated request that changes state must come from this site; another site's page cannot send one"))
		return
	}
	if p.Extended && cred.fromCookie {
		s.setCookie(c, cred.token, p.Session.ExpiresAt)
	}
	c.Set(principalKey, p)
	c.Next()
}

// readTarget is the id of the user the request reads (operation.readsUser),
// which checkPath has checked, or uuid.Nil.
func readTarget(c *gin.Context, op *operation) uuid.UUID {
	if op == nil || op.readsUser == "" {
		return uuid.Nil
	}
	id, _ := uuid.Parse(c.Param(op.readsUser))
	return id
}

// requireAnonymous lets only callers without a live session through: sign
// up and login by someone logged in answer 403 already_authenticated. A
// stale or unknown token counts as no session, so a browser with an old
// cookie can still log in.
func (s *server) requireAnonymous(c *gin.Context) {
	cred := credentialOf(c, s.cookieName())
	if cred.present && !cred.malformed {
		_, err := s.Sessions.AuthenticateReading(c.Request.Context(), cred.token, uuid.Nil)
		switch account.ErrorCode(err) {
		case "":
			s.writeError(c, account.Errorf(account.CodeAlreadyAuthenticated, "you are logged in; log out first"))
			return
		case account.CodeUnauthenticated:
		default:
			s.writeError(c, err)
			return
		}
	}
	c.Next()
}

func principalOf(c *gin.Context) account.Principal {
	p, _ := c.Get(principalKey)
	return p.(account.Principal)
}

// crossOriginProtection is the CSRF rule for cookie-authenticated
// requests, by Fetch Metadata as net/http.CrossOriginProtection applies
// it: safe methods pass; a browser's state change passes when its
// Sec-Fetch-Site is same-origin or none, or, from a browser that sends no
// Sec-Fetch-Site, when its Origin is the request's own host; anything a
// browser marks cross-site or same-site fails unless its Origin is one of
// public (http.public_origins) or a credentialed entry of cors (whose
// scripts may call the API with the cookie). A request with neither
// header is not a browser's, and cannot carry a browser's cookie against
// its user's will. It needs no Content-Type, so a bodyless fetch DELETE
// passes.
func crossOriginProtection(public, cors []string) (*http.CrossOriginProtection, error) {
	p := http.NewCrossOriginProtection()
	trust := func(setting, o string) error {
		if o = strings.TrimSpace(o); o == "" || o == "*" {
			return nil
		}
		if _, ok := normalOrigin(o); !ok {
			return fmt.Errorf("%s: %q is not an origin like https://accounts.example.com", setting, o)
		}
		return p.AddTrustedOrigin(strings.TrimSuffix(o, "/"))
	}
	for _, o := range public {
		if err := trust("http.public_origins", o); err != nil {
			return nil, err
		}
	}
	for _, o := range cors {
		if err := trust("http.cors_origins", o); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// normalOrigin returns an origin as scheme://host:port in lower case,
// with the scheme's default port written out, and whether raw is an
// origin at all (http or https, a host, nothing after it).
func normalOrigin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme == "https" && port == "":
		port = "443"
	case scheme == "http" && port == "":
		port = "80"
	case scheme != "http" && scheme != "https":
		return "", false
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), true
}

// setCookie sends the session token as an HttpOnly, SameSite=Lax cookie
// that lives as long as the session.
func (s *server) setCookie(c *gin.Context, token string, expires time.Time) {
	maxAge := int(expires.Sub(s.Now()).Seconds())
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     s.cookieName(),
		Value:    token,
		Path:     s.cookiePath(),
		Expires:  expires.UTC(),
		MaxAge:   max(maxAge, 1),
		HttpOnly: true,
		Secure:   s.CookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
}

// deviceHeader carries the device token for clients without cookies, in
// both directions.
const deviceHeader = "X-Device-Token"

func (s *server) deviceCookieName() string {
	if s.CookieSecure {
		return "__Host-device"
	}
	return "device"
}

// setDevice hands out a device token: as a cookie for browsers and as a
// header for other clients. Each login gets a new one.
func (s *server) setDevice(c *gin.Context, token string) {
	if token == "" {
		return
	}
	c.Header(deviceHeader, token)
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     s.deviceCookieName(),
		Value:    token,
		Path:     "/",
		MaxAge:   int(cmp.Or(s.DeviceLifetime, 365*24*time.Hour).Seconds()),
		HttpOnly: true,
		Secure:   s.CookieSecure,
		SameSite: http.SameSiteStrictMode,
	})
}

func (s *server) clearCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     s.cookieName(),
		Value:    "",
		Path:     s.cookiePath(),
		Expires:  time.Unix(0, 0),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.CookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
}
