package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/authsvc/authsvc/pkg/apikey"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

type contextKey int

const requestInfoKey contextKey = iota

// RequestInfo is what the API learns about a request while serving it; the
// request-log and metrics middleware read it after the handler returns.
type RequestInfo struct {
	ID     string // X-Request-ID
	Route  string // the matched route pattern, "" when none matched
	UserID int64  // the authenticated user, 0 when none
}

// RequestInfoFrom returns the request's info, or nil outside the API.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(requestInfoKey).(*RequestInfo)
	return info
}

func requestIDFrom(ctx context.Context) string {
	if info := RequestInfoFrom(ctx); info != nil {
		return info.ID
	}
	return ""
}

// requestID echoes a sane client X-Request-ID or generates one, and attaches
// the RequestInfo every later layer fills in and the domain.Client (IP,
// User-Agent, request id) the use cases record.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, withRequestInfo(w, r, s.ips, ""))
	})
}

// withRequestInfo echoes or makes the X-Request-ID and returns r with the
// RequestInfo (route as its route label, "" until the mux matches one) and
// the domain.Client attached.
func withRequestInfo(w http.ResponseWriter, r *http.Request, ips *ClientIPs, route string) *http.Request {
	id := r.Header.Get("X-Request-ID")
	if !saneRequestID(id) {
		id = newRequestID()
	}
	w.Header().Set("X-Request-ID", id)
	ctx := context.WithValue(r.Context(), requestInfoKey, &RequestInfo{ID: id, Route: route})
	ip := ""
	if a := ips.ClientIP(r); a.IsValid() {
		ip = a.String()
	}
	ctx = domain.WithClient(ctx, domain.Client{IP: ip, UserAgent: r.UserAgent(), RequestID: id})
	return r.WithContext(ctx)
}

// Tagged gives a handler outside the API's route table (the hosted pages,
// the OpenID Connect provider) what the API's own routes get, so that
// AccessLog and ObserveRequests inside it report it: a request id and
// RequestInfo with route as its route label (a fixed path: bounded
// cardinality), and the domain.Client the use cases record.
func Tagged(route string, ips *ClientIPs) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, withRequestInfo(w, r, ips, route))
		})
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// withRoute records the matched route pattern for logs and metrics.
func withRoute(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := RequestInfoFrom(r.Context()); info != nil {
			info.Route = pattern
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500 with a generic body.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error().Interface("panic", v).Bytes("stack", debug.Stack()).
				Str("request_id", requestIDFrom(r.Context())).Msg("handler panicked")
			renderError(w, r, errorLog(zerolog.Nop()), errors.New("handler panicked")) // logged above
		}()
		next.ServeHTTP(w, r)
	})
}

// authed wraps a handler that needs a valid access token. The principal's
// user row is the database's, so admin rights are current. An API key is
// refused with 403 api_key_not_allowed before it is looked up.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, p *domain.Principal)) http.HandlerFunc {
	return s.authedFor(false, "", h)
}

// keyed is authed for the endpoints an API key with scope may also reach.
func (s *Server) keyed(scope string, h func(w http.ResponseWriter, r *http.Request, p *domain.Principal)) http.HandlerFunc {
	return s.authedFor(false, scope, h)
}

// enrolment is authed for the second factor's own endpoints: the only ones
// an admin made to enrol (auth.mfa_required_for_admins) may reach.
func (s *Server) enrolment(h func(w http.ResponseWriter, r *http.Request, p *domain.Principal)) http.HandlerFunc {
	return s.authedFor(true, "", h)
}

// authedFor authenticates the request's access token or API key; scope is
// the API key scope the route accepts ("" for none).
func (s *Server) authedFor(enrolment bool, scope string, h func(w http.ResponseWriter, r *http.Request, p *domain.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, isKey, ok := credential(r)
		if !ok {
			s.writeError(w, r, domain.ErrNotAuthenticated)
			return
		}
		var p *domain.Principal
		var err error
		switch {
		case isKey && scope == "":
			err = domain.ErrAPIKeyNotAllowed
		case isKey && s.deps.APIKeys == nil:
			err = domain.ErrInvalidAPIKey
		case isKey:
			p, err = s.deps.APIKeys.Authenticate(r.Context(), token)
			if err == nil && !p.APIKey.HasScope(scope) {
				err = domain.ErrAPIKeyScope
			}
		default:
			p, err = s.deps.Authenticator.Authenticate(r.Context(), token)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if info := RequestInfoFrom(r.Context()); info != nil {
			info.UserID = p.User.ID
		}
		if p.EnrollmentOnly && !enrolment {
			s.writeError(w, r, domain.ErrMFAEnrollRequired)
			return
		}
		h(w, r, p)
	}
}

// credential is the request's access token or API key: an X-API-Key
// header, or an "Authorization: Bearer" token (a key when it starts with
// ask_).
func credential(r *http.Request) (token string, isKey, ok bool) {
	if key := strings.TrimSpace(r.Header.Get("X-API-Key")); key != "" {
		return key, true, true
	}
	token, ok = bearerToken(r)
	return token, ok && apikey.Looks(token), ok
}

// bearerToken extracts the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
