package httpapi

import (
	"net/http"
	"time"
)

// RequestMetrics records finished requests.
type RequestMetrics interface {
	// ObserveRequest records one request: method, route pattern (or
	// "unmatched"), status and duration.
	ObserveRequest(method, route string, status int, d time.Duration)
}

// ObserveRequests is a middleware that reports every request to m. Put it
// in Options.Middleware, after AccessLog.
func ObserveRequests(m RequestMetrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			completed := false
			defer func() {
				status := rec.Status()
				if !completed {
					status = http.StatusInternalServerError
				}
				m.ObserveRequest(r.Method, routeOf(r), status, time.Since(start))
			}()
			next.ServeHTTP(rec, r)
			completed = true
		})
	}
}

// serveMetrics serves GET /metrics from Deps.Metrics; 404 when metrics are
// disabled.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.deps.Metrics == nil {
		s.writeError(w, r, errRouteNotFound)
		return
	}
	s.deps.Metrics.ServeHTTP(w, r)
}
