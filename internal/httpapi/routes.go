package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"accounts/internal/account"
)

// routes registers every operation of openapi.yaml, through the generated
// RegisterHandlersWithOptions, behind the middleware that applies the
// document to each request (validate.go). TestEveryRouteDocumented fails
// when a route and the document disagree.
func (s *server) routes(e *gin.Engine) {
	// Middleware for every request, outermost first. Request logging,
	// metrics and tracing belong at the top of this list, before recover,
	// so that they also see the 500s that recover writes.
	e.Use(
		s.observe,
		s.releaseBody,
		s.recoverPanics,
		securityHeaders,
		s.cors,
		refuseTransferEncoding,
		s.checkPath,
		s.checkSchema,
		s.checkSession,
		s.checkRole,
		s.checkRequest,
		s.rateLimit,
	)
	e.NoRoute(s.noRoute)
	e.NoMethod(s.noMethod)
	if s.Docs {
		s.docs(e)
	}

	strict := NewStrictHandlerWithOptions(handlers{s}, nil, StrictGinServerOptions{
		RequestErrorHandlerFunc: func(c *gin.Context, err error) {
			s.writeError(c, account.Errorf(account.CodeInvalidJSON, "the body is not valid for this endpoint"))
		},
		HandlerErrorFunc:         s.writeError,
		ResponseErrorHandlerFunc: s.writeError,
	})
	// /metrics is served here only when metrics are not on an address of
	// their own, and /api/v1/audit only when the service has an audit
	// trail; otherwise the path is unmatched, like any unknown one.
	router := skipRoutes{IRouter: e, skip: map[string]bool{
		"GET /metrics":      s.Metrics == nil,
		"GET /api/v1/audit": s.Audit == nil,
	}}
	RegisterHandlersWithOptions(router, strict, GinServerOptions{
		// The compiled rules have checked every parameter against the same
		// document, so the generated binding fails only on a disagreement
		// between the two: it is logged, and answered in the shape of every
		// other 422, without the binding's Go words.
		ErrorHandler: func(c *gin.Context, err error, status int) {
			s.Log.WarnContext(c.Request.Context(), "a parameter passed the document and failed the binding", "error", err.Error())
			e := &account.Error{Code: account.CodeValidationFailed, Message: "the request has invalid parameters"}
			if name, ok := boundParameter(err.Error()); ok {
				e.Fields = []account.FieldError{{Field: name, Message: "is not valid"}}
			}
			s.writeError(c, e)
		},
	})
	addHeadRoutes(e)
}

// checkSchema answers a request to the API with Behind's error while the
// database lacks migrations of this build; the probes, the document and
// /docs answer as ever.
func (s *server) checkSchema(c *gin.Context) {
	if s.Behind != nil && strings.HasPrefix(c.FullPath(), "/api/") {
		if err := s.Behind(); err != nil {
			s.writeError(c, err)
			return
		}
	}
	c.Next()
}

// boundParameter reads the parameter's name out of an error of the
// generated binding ("Invalid format for parameter limit: ...").
func boundParameter(msg string) (string, bool) {
	_, rest, ok := strings.Cut(msg, "parameter ")
	name, _, _ := strings.Cut(rest, ":")
	return name, ok && name != ""
}

// skipRoutes registers every route given to it except those in skip, keyed
// "METHOD /path".
type skipRoutes struct {
	gin.IRouter
	skip map[string]bool
}

func (r skipRoutes) handle(method, path string, h []gin.HandlerFunc) gin.IRoutes {
	if r.skip[method+" "+path] {
		return r
	}
	return r.Handle(method, path, h...)
}

// GET registers a GET route unless it is skipped.
func (r skipRoutes) GET(path string, h ...gin.HandlerFunc) gin.IRoutes {
	return r.handle(http.MethodGet, path, h)
}

// POST registers a POST route unless it is skipped.
func (r skipRoutes) POST(path string, h ...gin.HandlerFunc) gin.IRoutes {
	return r.handle(http.MethodPost, path, h)
}

// PUT registers a PUT route unless it is skipped.
func (r skipRoutes) PUT(path string, h ...gin.HandlerFunc) gin.IRoutes {
	return r.handle(http.MethodPut, path, h)
}

// PATCH registers a PATCH route unless it is skipped.
func (r skipRoutes) PATCH(path string, h ...gin.HandlerFunc) gin.IRoutes {
	return r.handle(http.MethodPatch, path, h)
}

// DELETE registers a DELETE route unless it is skipped.
func (r skipRoutes) DELETE(path string, h ...gin.HandlerFunc) gin.IRoutes {
	return r.handle(http.MethodDelete, path, h)
}
