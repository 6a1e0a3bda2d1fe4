package httpapi

import (
	"net/http"

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
		s.recoverPanics,
		securityHeaders,
		s.cors,
		refuseTransferEncoding,
		s.checkPath,
		s.checkSession,
		s.checkRole,
		s.checkRequest,
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
		"GET /metrics":      s.Deps.Metrics == nil,
		"GET /api/v1/audit": s.Deps.Audit == nil,
	}}
	RegisterHandlersWithOptions(router, strict, GinServerOptions{
		// The validator has checked every parameter against the same
		// document, so the generated binding fails only on a disagreement
		// between the two; it is answered as the validator would.
		ErrorHandler: func(c *gin.Context, err error, status int) {
			s.writeError(c, account.Errorf(account.CodeValidationFailed, "%s", err.Error()))
		},
	})
	addHeadRoutes(e)
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
	return r.IRouter.Handle(method, path, h...)
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

// DELETE registers a DELETE route unless it is skipped.
func (r skipRoutes) DELETE(path string, h ...gin.HandlerFunc) gin.IRoutes {
	return r.handle(http.MethodDelete, path, h)
}
