package httpapi

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	swaggerfiles "github.com/swaggo/files/v2"
)

// docsPath is where the interactive documentation lives (Config.Docs): an
// HTML page of its own, not an operation of the API, so these routes are
// the only ones the document does not list.
const docsPath = "/docs"

// docsPage is Swagger UI on this service's own document. Every asset comes
// from the binary (Swagger UI's files are embedded by swaggo/files), so the
// page works on a network without internet access.
const docsPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>accounts API</title>
<link rel="stylesheet" href="` + docsPath + `/swagger-ui.css">
<link rel="icon" type="image/png" href="` + docsPath + `/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="` + docsPath + `/swagger-ui-bundle.js"></script>
<script src="` + docsPath + `/init.js"></script>
</body>
</html>
`

// docsInit starts Swagger UI on the document of docsDocument, which offers
// the bearer scheme alone. Cookies go along with "Try it out", so a session
// from the login operation works in the page too.
const docsInit = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "` + docsPath + `/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    withCredentials: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
`

// docs registers GET /docs and the assets under it.
func (s *server) docs(e *gin.Engine) {
	e.GET(docsPath, func(c *gin.Context) {
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(docsPage))
	})
	e.GET(docsPath+"/*file", func(c *gin.Context) {
		name := strings.TrimPrefix(c.Param("file"), "/")
		switch {
		case name == "init.js":
			c.Data(http.StatusOK, "text/javascript; charset=utf-8", []byte(docsInit))
		case name == "openapi.json":
			c.Data(http.StatusOK, "application/json", s.docsDoc)
		case name == "" || name == "index.html" || name == "swagger-initializer.js" || !fs.ValidPath(name):
			// Swagger UI's own page and initializer point at another
			// document; the page above replaces them.
			s.noRoute(c)
		default:
			if _, err := fs.Stat(swaggerfiles.FS, name); err != nil {
				s.noRoute(c)
				return
			}
			http.ServeFileFS(c.Writer, c.Request, swaggerfiles.FS, name)
		}
	})
}
