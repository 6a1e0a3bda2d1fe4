package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// smallBody is the largest body that is not charged to the body budget:
// every body of a normal request is far smaller, and at most one of them
// is read per connection, so max_connections of them hold at most
// max_connections × smallBody (2 MiB at 512).
const smallBody = 4 << 10

// budgetWait is how long a body waits for room in the budget before it is
// answered 503.
const budgetWait = time.Second

// bodyBudget is the byte budget that the bodies being read share.
type bodyBudget struct {
	mu   sync.Mutex
	free int64
	// freed is closed, and replaced, whenever bytes are given back.
	freed chan struct{}
}

func newBodyBudget(n int64) *bodyBudget {
	return &bodyBudget{free: n, freed: make(chan struct{})}
}

// take charges n bytes, waiting up to wait for them to be free; it reports
// false when they were not, or ctx ended first.
func (b *bodyBudget) take(ctx context.Context, n int64, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return true
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// give returns n bytes taken before.
func (b *bodyBudget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	close(b.freed)
	b.freed = make(chan struct{})
}

// readRaw reads the request body into a buffer of exactly its declared
// size, charged to the body budget (bodies over smallBody) until the
// request ends, and at the pace the body_* settings demand: each read
// within BodyReadTimeout, the whole body within BodyReadTimeout plus its
// size at BodyMinRate. Memory is therefore bounded by the budget, not by
// how many clients send large bodies at once, and a slow body holds its
// connection for a bounded time.
func (s *server) readRaw(c *gin.Context) ([]byte, error) {
	size := c.Request.ContentLength
	if size > s.MaxBodyBytes {
		return nil, tooLarge(s.MaxBodyBytes)
	}
	if size < 0 {
		// No Content-Length (not HTTP/1.1 framing): read up to the limit.
		size = s.MaxBodyBytes + 1
	}
	if size > smallBody {
		if !s.budget.take(c.Request.Context(), size, budgetWait) {
			// The body is left unread, so the connection cannot carry
			// another request; net/http would otherwise read the rest
			// of it before answering.
			c.Header("Connection", "close")
			return nil, &account.Error{Code: account.CodeServiceUnavailable, RetryAfter: time.Second,
				Message: "the server is reading too many large bodies at once; try again shortly"}
		}
		// Given back when the whole request is done: the handler still
		// holds what was decoded from the bytes.
		c.Set(budgetKey{}, size)
	}
	buf := make([]byte, size)
	n, err := s.readPaced(c, buf)
	switch {
	case errors.Is(err, io.EOF) && c.Request.ContentLength < 0:
		return buf[:n], nil
	case err == nil && c.Request.ContentLength < 0:
		return nil, tooLarge(s.MaxBodyBytes)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.Header("Connection", "close")
		return nil, account.Errorf(account.CodeBadRequest,
			"the body did not arrive in time: it must come at %d bytes a second or faster, pausing no more than %s", s.BodyMinRate, s.BodyReadTimeout)
	case errors.Is(err, io.EOF):
		return nil, account.Errorf(account.CodeInvalidJSON, "the body is empty; a JSON object is required")
	case err != nil:
		return nil, syntaxError(err)
	}
	return buf, nil
}

// readPaced fills buf from the body (io.ReadFull), setting the
// connection's read deadline before each read as readRaw says.
func (s *server) readPaced(c *gin.Context, buf []byte) (int, error) {
	rc := http.NewResponseController(c.Writer)
	start := time.Now()
	whole := start.Add(s.BodyReadTimeout + time.Duration(float64(len(buf))/float64(s.BodyMinRate)*float64(time.Second)))
	// Whatever happens, later reads on the connection (the next request's
	// headers) get the server's own deadlines again.
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	n := 0
	for n < len(buf) {
		// ErrNotSupported (a test's recorder) leaves the server's
		// deadlines in force.
		next := time.Now().Add(s.BodyReadTimeout)
		if next.After(whole) {
			next = whole
		}
		_ = rc.SetReadDeadline(next)
		m, err := c.Request.Body.Read(buf[n:])
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) && n == len(buf) {
				break
			}
			if errors.Is(err, io.EOF) && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
}

type budgetKey struct{}

// releaseBody gives back what the request's body took from the budget,
// once the request is done.
func (s *server) releaseBody(c *gin.Context) {
	defer func() {
		if n, ok := c.Get(budgetKey{}); ok {
			s.budget.give(n.(int64))
		}
	}()
	c.Next()
}
