package httpapi

import (
	"net/http"

	"github.com/authsvc/authsvc/pkg/openapi"
)

// The paths of the API's own documentation (operational
// endpoints). The page's assets are served under docsPath + "/".
const (
	openapiPath = "/openapi.json"
	docsPath    = "/docs"
)

// openapiJSON serves the OpenAPI document as JSON (GET /openapi.json). The
// embedded YAML is converted once, when the route table is built.
func (s *Server) openapiJSON() http.HandlerFunc {
	h, err := openapi.JSONHandler()
	if err != nil {
		s.log.Error().Err(err).Msg("openapi document unavailable")
		return func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, err)
		}
	}
	return h.ServeHTTP
}

// docs serves the documentation page (GET /docs) and its embedded assets
// (GET /docs/{asset}); an unknown asset is the API's JSON 404.
func (s *Server) docs() http.HandlerFunc {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errRouteNotFound)
	})
	return openapi.DocsHandler(docsPath, openapiPath, notFound).ServeHTTP
}
