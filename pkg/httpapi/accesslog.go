package httpapi

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// AccessLog writes one line per request: method, route pattern (never the
// raw path, which holds usernames, nor the query string, which may hold a
// password), status, duration_ms, response bytes, client IP, request id and
// the authenticated user id when known. No header is logged. Put it first
// in Options.Middleware so that it also sees CORS preflights.
func AccessLog(log zerolog.Logger, ips *ClientIPs) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			completed := false
			defer func() { // also runs while a panic unwinds to recoverPanics
				status := rec.Status()
				if !completed {
					status = http.StatusInternalServerError
				}
				ev := log.Info()
				if status >= 500 {
					ev = log.Error()
				}
				ev = ev.Str("method", r.Method).Str("route", routeOf(r)).Int("status", status).
					Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).Int64("bytes", rec.bytes)
				if ip := ips.ClientIP(r); ip.IsValid() {
					ev = ev.Str("client_ip", ip.String())
				}
				if info := RequestInfoFrom(r.Context()); info != nil {
					ev = ev.Str("request_id", info.ID)
					if info.UserID != 0 {
						ev = ev.Int64("user_id", info.UserID)
					}
				}
				ev.Msg("request")
			}()
			next.ServeHTTP(rec, r)
			completed = true
		})
	}
}

// routeOf is the matched route pattern, or "unmatched" (404, 405, CORS
// preflight): never the raw path.
func routeOf(r *http.Request) string {
	if info := RequestInfoFrom(r.Context()); info != nil && info.Route != "" {
		return info.Route
	}
	return "unmatched"
}

// statusRecorder remembers the status and counts the body bytes written.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Status is the status sent, 200 when the handler wrote nothing.
func (s *statusRecorder) Status() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
