package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"accounts/internal/account"
)

// FloorGet does the database work of an authenticated GET
// /api/v1/users/{id}: it resolves token to its caller and reads the user
// id.
type FloorGet func(ctx context.Context, token string, id uuid.UUID) (account.User, error)

// Floor is the floor of the request-path benchmarks (bench/): a bare Gin
// engine, with no middleware at all, that serves GET /api/v1/users/{id}
// by calling get and writing the user as JSON. It shares nothing of the
// service's request path but Gin itself, so the service's cost per request
// over Floor's is what the service's own layers cost. It lives here
// because this is the one package that imports Gin; the service never
// serves it.
func Floor(get FloorGet) http.Handler {
	e := gin.New()
	// The harness waits for /livez before it loads a server.
	e.GET("/livez", func(c *gin.Context) { c.Status(http.StatusOK) })
	e.GET("/api/v1/users/:id", func(c *gin.Context) {
		token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		id, err := uuid.Parse(c.Param("id"))
		if !ok || err != nil {
			c.Status(http.StatusBadRequest)
			return
		}
		u, err := get(c.Request.Context(), token, id)
		if err != nil {
			c.Status(http.StatusInternalServerError)
			return
		}
		c.JSON(http.StatusOK, u)
	})
	return e
}
