package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"accounts/internal/account"
)

// RequestIDHeader carries the id of a request: taken from the request when
// it is short and plain, made up otherwise, and always sent back.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a request id taken from a client.
const maxRequestIDLen = 64

// RequestID returns the id of the request that ctx belongs to, or "": the
// one the request's origin (account.WithOrigin) carries.
func RequestID(ctx context.Context) string {
	return account.OriginOf(ctx).RequestID
}

// plainRequestID tells whether a client's X-Request-Id can be the
// request's id in logs, answers and the audit trail: 1 to 64 ASCII
// letters, digits, '-', '_' and '.', which no log, shell or browser reads
// as anything but a word (a UUID, a ULID and the ids of common proxies
// qualify).
func plainRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := range len(id) {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_', b == '.':
		default:
			return false
		}
	}
	return true
}

// observe is the outermost middleware: it gives the request its id (in the
// context and in the response header), and when the request is answered it
// reports it to ObserveHTTP and writes the one log line of the request. The
// line holds no query string, header or body: those may carry secrets.
func (s *server) observe(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader(RequestIDHeader)
	var sent []slog.Attr
	if !plainRequestID(id) {
		// The client's id may still help find its request: it is logged
		// apart, escaped and cut, never as the id of record.
		if id != "" {
			sent = append(sent, slog.String("client_request_id", echo(id)))
		}
		id = uuid.NewString()
	}
	// Downstream code, the generated parameter binding included, sees the
	// one id the request goes by; the answer carries it back. Both headers
	// share one value: nothing writes into a header value in place.
	ids := []string{id}
	c.Writer.Header()[RequestIDHeader] = ids
	c.Request.Header[RequestIDHeader] = ids
	// The audit trail records every change with the request's id and the
	// client's address (through a trusted proxy, the one it names); the
	// log lines of the request take the id from there too (RequestID).
	client := c.ClientIP()
	c.Request = c.Request.WithContext(account.WithOrigin(c.Request.Context(), account.Origin{RequestID: id, Address: client}))

	c.Next()

	latency := time.Since(start)
	status := c.Writer.Status()
	route := c.FullPath()
	if s.ObserveHTTP != nil {
		s.ObserveHTTP(c.Request.Method, route, status, latency)
	}
	// A 503 says "not now": its cause (the database down or behind the
	// build) is logged apart, once per change, so a load balancer's probes
	// or an outage do not write an error per request.
	level := slog.LevelInfo
	if status >= 500 && status != http.StatusServiceUnavailable {
		level = slog.LevelError
	}
	// request_id is added by the handler LogHandler wraps, from the context.
	attrs := appendRequestAttrs(make([]slog.Attr, 0, 7), c)
	attrs = append(attrs,
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
		slog.String("client", client),
	)
	s.Log.LogAttrs(c.Request.Context(), level, "request", append(attrs, sent...)...)
}

// requestAttrs are the fields that say which request a line is about, the
// same on every line logged for one: method, route (the template, "" when
// no route matched) and path (the request's, never the query string), the
// method and path as echo repeats them.
func requestAttrs(c *gin.Context) []slog.Attr {
	return appendRequestAttrs(nil, c)
}

// appendRequestAttrs appends requestAttrs to attrs.
func appendRequestAttrs(attrs []slog.Attr, c *gin.Context) []slog.Attr {
	return append(attrs,
		slog.String("method", echo(c.Request.Method)),
		slog.String("route", c.FullPath()),
		slog.String("path", echo(c.Request.URL.Path)),
	)
}

// LogHandler returns h adding request_id, the id of the request the
// context belongs to, to every record logged with such a context: the
// request line, internal errors, and the SQL and pool echo of the database
// when the process logger is wrapped too. Wrapping twice adds it once.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
