// Package httpapi is the HTTP face of authsvc: one route table on
// net/http.ServeMux, JSON decoding and encoding, one error renderer that maps
// domain error codes to statuses and FastAPI-shaped bodies, and the
// middleware every request passes through. Business rules live in the
// services it is given, never here.
package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// Deps are the services the API serves.
type Deps struct {
	Auth          domain.AuthService
	Credits       domain.CreditService
	Holds         domain.HoldService
	Authenticator domain.Authenticator
	// APIKeys serves /auth/api-keys and authenticates requests that carry
	// an API key; nil refuses every key.
	APIKeys domain.APIKeyService
	// Passkeys serves /auth/passkeys/...; nil answers 404 passkeys_disabled.
	Passkeys domain.PasskeyService
	// Federation serves /auth/providers/... and /auth/identities/...; nil:
	// no providers (an empty list, 404 elsewhere).
	Federation domain.FederationService
	// Verifier answers POST /keys/verify; nil answers 404.
	Verifier domain.APIKeyVerifier
	// VerifierSecrets are the service credentials POST /keys/verify accepts
	// as a bearer token (api_keys.verifier_secrets).
	VerifierSecrets []string
	// ServiceTokens, when set, also lets services call POST /keys/verify
	// with a client-credentials token carrying the keys:verify scope.
	ServiceTokens domain.ServiceTokenVerifier
	// MFA serves the second-factor endpoints (/auth/mfa/…).
	MFA domain.MFAService
	// Ready reports whether the service can take traffic (database reachable,
	// migrations applied); nil means always ready.
	Ready  func(ctx context.Context) error
	Logger zerolog.Logger
	// Metrics serves GET /metrics (the Prometheus text format); nil answers
	// 404.
	Metrics http.Handler
	// Keys publishes the public signing keys at /.well-known/jwks.json; nil
	// publishes an empty set.
	Keys domain.KeyPublisher
	// JWKSMaxAge is the Cache-Control max-age of the key set.
	JWKSMaxAge time.Duration
}

// Options change how requests are handled around the routes.
type Options struct {
	// Middleware wraps the whole API, outermost first (CORS, request logs,
	// metrics). It runs after request-id assignment and panic recovery.
	Middleware []func(http.Handler) http.Handler
	// RouteMiddleware wraps each route's handler, e.g. with its rate limit;
	// it sees the Route so it can pick a limit by class.
	RouteMiddleware []func(Route, http.Handler) http.Handler
	// LogSampleWindow: identical error lines (a failed request's cause, a
	// failed readiness probe) are written once per window; default
	// DefaultLogSampleWindow.
	LogSampleWindow time.Duration
	// LogSuppressed is called for every error line held back (a metric).
	LogSuppressed func()
	// ClientIPs tells the client IP that sessions and audit events record;
	// nil means the TCP peer address.
	ClientIPs *ClientIPs
}

// Server serves the authsvc HTTP API.
type Server struct {
	deps    Deps
	log     zerolog.Logger
	ips     *ClientIPs
	mux     *http.ServeMux
	handler http.Handler
	errLogs *logSampler
}

// New builds the server and its route table.
func New(deps Deps, opts Options) *Server {
	s := &Server{deps: deps, log: deps.Logger, mux: http.NewServeMux(), ips: opts.ClientIPs,
		errLogs: newLogSampler(opts.LogSampleWindow, opts.LogSuppressed)}
	if s.ips == nil {
		s.ips, _ = NewClientIPs(nil) // no proxies: cannot fail
	}
	for _, rt := range s.Routes() {
		var h http.Handler = rt.Handler
		for i := len(opts.RouteMiddleware) - 1; i >= 0; i-- {
			h = opts.RouteMiddleware[i](rt, h)
		}
		s.mux.Handle(rt.Method+" "+rt.Pattern, withRoute(rt.Pattern, h))
	}
	var h http.Handler = http.HandlerFunc(s.dispatch)
	for i := len(opts.Middleware) - 1; i >= 0; i-- {
		h = opts.Middleware[i](h)
	}
	s.handler = s.requestID(s.recoverPanics(h))
	return s
}

// Handler returns the complete HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// dispatch routes a request, answering unknown paths (404) and wrong methods
// (405, with Allow) with the API's JSON error body instead of ServeMux's text.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	capture := &headerCapture{header: http.Header{}}
	h.ServeHTTP(capture, r)
	if allow := capture.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	if capture.status == http.StatusMethodNotAllowed {
		s.writeError(w, r, errMethodNotAllowed)
		return
	}
	s.writeError(w, r, errRouteNotFound)
}

// headerCapture records what ServeMux's own 404/405 handlers write.
type headerCapture struct {
	header http.Header
	status int
}

func (c *headerCapture) Header() http.Header         { return c.header }
func (c *headerCapture) Write(b []byte) (int, error) { return len(b), nil }
func (c *headerCapture) WriteHeader(status int)      { c.status = status }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.deps.Ready != nil {
		if err := s.deps.Ready(r.Context()); err != nil {
			if write, held := s.errLogs.allow("readyz|" + err.Error()); write {
				ev := s.log.Warn().Err(err)
				if held > 0 {
					ev = ev.Int("identical_lines_suppressed", held)
				}
				ev.Msg("not ready")
			}
			if domain.ErrorReason(err) == domain.ReasonSigningKeyUnusable {
				// Safe to show, and what the operator must fix.
				writeJSON(w, http.StatusServiceUnavailable, errorBody{Detail: domain.MsgServiceNotReady + ": " + domain.ErrorMessage(err), Code: "not_ready"})
				return
			}
			s.writeError(w, r, errNotReady)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
