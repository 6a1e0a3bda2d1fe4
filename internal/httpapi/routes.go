package httpapi

import "github.com/gin-gonic/gin"

// routes lists every route of the service. Each route has an operation in
// the OpenAPI document (openapi.go); TestEveryRouteDocumented fails when
// one is missing.
func (s *server) routes(e *gin.Engine) {
	// Middleware for every request, outermost first. Request logging,
	// metrics and tracing belong at the top of this list, before recover,
	// so that they also see the 500s that recover writes.
	e.Use(
		s.observe,
		s.recoverPanics,
		securityHeaders,
		refuseTransferEncoding,
	)
	e.NoRoute(s.noRoute)
	e.NoMethod(s.noMethod)

	e.GET("/livez", s.livez)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.json", s.openapi)
	if s.Metrics != nil {
		e.GET("/metrics", gin.WrapH(s.Metrics))
	}

	api := e.Group("/api/v1")

	anonymous := api.Group("", s.requireAnonymous)
	anonymous.POST("/account/signup", s.signUp)
	anonymous.POST("/account/login", s.login)

	authed := api.Group("", s.requireSession)
	authed.GET("/account", s.getAccount)
	authed.PUT("/account/password", s.changePassword)
	authed.DELETE("/account/logout", s.logout)
	authed.POST("/users", s.createUser)
	authed.GET("/users", s.listUsers)
	authed.GET("/audit", s.listAudit)

	// The path id is checked before the session lookup, so a malformed id
	// costs no query at all.
	byID := api.Group("/users/:id", s.pathID, s.requireSession)
	byID.GET("", s.getUser)
	byID.PUT("/password", s.setUserPassword)
	byID.PUT("/roles/admin", s.grantAdmin)
	byID.DELETE("/roles/admin", s.revokeAdmin)
	byID.PUT("/activation", s.activate)
	byID.DELETE("/activation", s.deactivate)
}
