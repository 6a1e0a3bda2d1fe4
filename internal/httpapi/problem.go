package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// statusOf maps each error code to its HTTP status. It is the only place
// where codes meet statuses.
var statusOf = map[account.Code]int{
	account.CodeValidationFailed:     http.StatusUnprocessableEntity,
	account.CodeInvalidJSON:          http.StatusBadRequest,
	account.CodeBadRequest:           http.StatusBadRequest,
	account.CodeBodyTooLarge:         http.StatusRequestEntityTooLarge,
	account.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	account.CodeUnauthenticated:      http.StatusUnauthorized,
	account.CodeInvalidCredentials:   http.StatusUnauthorized,
	account.CodeAccountInactive:      http.StatusForbidden,
	account.CodeAlreadyAuthenticated: http.StatusForbidden,
	account.CodeWrongPassword:        http.StatusForbidden,
	account.CodeForbidden:            http.StatusForbidden,
	account.CodeCSRFRejected:         http.StatusForbidden,
	account.CodeUserNotFound:         http.StatusNotFound,
	account.CodeNotFound:             http.StatusNotFound,
	account.CodeSessionNotFound:      http.StatusNotFound,
	account.CodeIdempotencyKeyReused: http.StatusUnprocessableEntity,
	account.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	account.CodeUsernameTaken:        http.StatusConflict,
	account.CodePreconditionFailed:   http.StatusPreconditionFailed,
	account.CodePreconditionRequired: http.StatusPreconditionRequired,
	account.CodeTooManyAttempts:      http.StatusTooManyRequests,
	account.CodeServiceUnavailable:   http.StatusServiceUnavailable,
	account.CodeInternal:             http.StatusInternalServerError,
}

// problemTypePrefix starts the "type" URI of every problem; the code ends it.
const problemTypePrefix = "urn:accounts:problem:"

// writeError writes err as problem+json and aborts the handler chain.
// Errors that are not *account.Error are internal: they are logged with
// the request and shown as a generic 500, so no SQL, DSN or stack trace
// reaches the client.
func (s *server) writeError(c *gin.Context, err error) {
	if clientGone(c, err) {
		// Nobody reads the answer; the status is for the log and the
		// metrics, which must not count the client's leaving as a fault.
		c.AbortWithStatus(StatusClientClosed)
		return
	}
	var e *account.Error
	if !errors.As(err, &e) {
		s.Log.LogAttrs(c.Request.Context(), slog.LevelError, "internal error",
			append(requestAttrs(c), slog.String("error", err.Error()))...)
		e = account.Errorf(account.CodeInternal, "an internal error occurred")
	} else if e.Code == account.CodeServiceUnavailable && e.Unwrap() != nil {
		if suppressed, ok := s.unavailable.allow(time.Now()); ok {
			s.Log.LogAttrs(c.Request.Context(), slog.LevelWarn, "service unavailable",
				append(requestAttrs(c), slog.String("error", e.Unwrap().Error()), slog.Int("suppressed", suppressed))...)
		}
	}
	writeProblem(c, e)
}

// StatusClientClosed is the status logged and counted for a request whose
// client closed the connection before the answer (nginx's 499).
const StatusClientClosed = 499

// clientGone reports whether err is the request failing because its
// client went away: the request's context was cancelled and err says so.
func clientGone(c *gin.Context, err error) bool {
	return errors.Is(c.Request.Context().Err(), context.Canceled) && errors.Is(err, context.Canceled)
}

// unavailableLogEvery is the most often an outage is logged: its first
// failure at once, then a line with the count of those left out.
const unavailableLogEvery = 10 * time.Second

// logLimit lets one line through every unavailableLogEvery and counts the
// ones it holds back, so that an outage under load writes a line every
// few seconds instead of one a request.
type logLimit struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether a line may be written at now, and how many were
// held back since the last one.
func (l *logLimit) allow(now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < unavailableLogEvery {
		l.suppressed++
		return 0, false
	}
	suppressed, l.last, l.suppressed = l.suppressed, now, 0
	return suppressed, true
}

func writeProblem(c *gin.Context, e *account.Error) {
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := Problem{
		Type:   problemTypePrefix + string(e.Code),
		Title:  http.StatusText(status),
		Status: status,
		Code:   e.Code,
		Detail: e.Message,
	}
	for _, f := range e.Fields {
		p.Errors = append(p.Errors, FieldError{Field: f.Field, Message: f.Message})
	}
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	h := c.Writer.Header()
	// Every 401 names the scheme to authenticate with (RFC 9110 11.6.1);
	// requireSession has set a more precise one when it answers.
	if status == http.StatusUnauthorized && len(h[wwwAuthenticate]) == 0 {
		h[wwwAuthenticate] = bearerChallenge
	}
	body, _ := json.Marshal(p)
	c.Abort()
	// Set here, with a shared value, Gin's Data keeps it.
	h["Content-Type"] = problemContentType
	c.Data(status, problemContentType[0], body)
}

// The header values every problem and challenge sends, shared as
// securityHeaders' are; wwwAuthenticate is the key in canonical form, as
// Header.Set would store it.
const wwwAuthenticate = "Www-Authenticate"

var (
	bearerChallenge       = []string{`Bearer realm="accounts"`}
	invalidTokenChallenge = []string{`Bearer realm="accounts", error="invalid_token"`}
	problemContentType    = []string{"application/problem+json"}
)

func (s *server) noRoute(c *gin.Context) {
	writeProblem(c, account.Errorf(account.CodeNotFound, "no route matches %s", echo(c.Request.URL.Path)))
}

func (s *server) noMethod(c *gin.Context) {
	// Gin has set the Allow header listing the methods that do exist.
	writeProblem(c, account.Errorf(account.CodeMethodNotAllowed, "%s is not allowed here; allowed: %s",
		echo(c.Request.Method), c.Writer.Header().Get("Allow")))
}

// recoverPanics turns a panic in a handler into a logged 500 problem.
func (s *server) recoverPanics(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler {
			panic(r)
		}
		s.Log.LogAttrs(c.Request.Context(), slog.LevelError, "panic in handler",
			append(requestAttrs(c), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))...)
		if !c.Writer.Written() {
			writeProblem(c, account.Errorf(account.CodeInternal, "an internal error occurred"))
		}
	}()
	c.Next()
}

// refuseTransferEncoding answers a request that came with a
// Transfer-Encoding 400 and closes the connection. net/http drops a
// Content-Length sent beside a Transfer-Encoding before a handler runs, so
// such a request cannot be told from a chunked one here; every body this
// API takes is small JSON with a Content-Length, and RFC 9112 (6.1) wants
// the connection closed after a request with both, lest a proxy that
// framed it by Content-Length forward a second request hidden in the body.
func refuseTransferEncoding(c *gin.Context) {
	if len(c.Request.TransferEncoding) == 0 {
		c.Next()
		return
	}
	c.Header("Connection", "close")
	writeProblem(c, account.Errorf(account.CodeBadRequest, "send the body with a Content-Length and no Transfer-Encoding"))
	c.Abort()
}

// securityHeaders stops browsers from sniffing content types and keeps
// every answer out of caches (those of /api/v1 carry tokens or users, and
// the rest are cheap). The server sends no Server header: net/http adds
// none and neither does this code.
//
// The values are shared by every answer rather than allocated per request
// as Header.Set would: each slice holds one element at full capacity, so
// an Add on the answer copies it, and nothing in the server writes into
// a header value in place.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	for _, kv := range securityHeaderValues {
		h[kv.name] = kv.value
	}
	c.Next()
}

// securityHeaderValues are what securityHeaders sends, keys in canonical
// form.
var securityHeaderValues = []struct {
	name  string
	value []string
}{
	{"Cache-Control", []string{"no-store"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"X-Frame-Options", []string{"DENY"}},
}
