package httpapi

import (
	"net/http"

	"github.com/rs/cors"
)

// CORS answers cross-origin requests from allowedOrigins
// (server.cors_allowed_origins) with github.com/rs/cors, preflights
// included. With no origins it does nothing: no Access-Control-* headers
// for anyone. Put it in Options.Middleware: it must run outside the route
// table so that OPTIONS preflights reach it.
func CORS(allowedOrigins []string) func(http.Handler) http.Handler {
	if len(allowedOrigins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	c := cors.New(cors.Options{
		AllowedOrigins: allowedOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "X-Request-ID"},
		ExposedHeaders: []string{"X-Request-ID", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
			"Retry-After", "WWW-Authenticate"},
		MaxAge: 600,
	})
	return c.Handler
}
