package httpapi

import (
	"net/http"
	"strconv"
)

// jwksPath is where the public signing keys are published.
const jwksPath = "/.well-known/jwks.json"

// jwks serves the JSON Web Key Set (GET /.well-known/jwks.json) with
// Cache-Control max-age = Deps.JWKSMaxAge, so that consumers see a rotation
// soon. Without a publisher the set is empty.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	body := []byte(`{"keys":[]}`)
	if s.deps.Keys != nil {
		body = s.deps.Keys.JWKS()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.deps.JWKSMaxAge.Seconds())))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
