package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// The wire-level errors (no domain meaning).
var (
	errRouteNotFound    = statusError(http.StatusNotFound, "not_found", domain.MsgNotFound)
	errMethodNotAllowed = statusError(http.StatusMethodNotAllowed, "method_not_allowed", domain.MsgMethodNotAllowed)
	errNotReady         = statusError(http.StatusServiceUnavailable, "not_ready", domain.MsgServiceNotReady)
	errUnsupportedMedia = statusError(http.StatusUnsupportedMediaType, "unsupported_media_type", domain.MsgUnsupportedMedia)
)

// statusByCode maps domain error codes to HTTP statuses.
var statusByCode = map[string]int{
	domain.EINVALID:      http.StatusBadRequest,
	domain.EVALIDATION:   http.StatusUnprocessableEntity,
	domain.EUNAUTHORIZED: http.StatusUnauthorized,
	domain.EFORBIDDEN:    http.StatusForbidden,
	domain.ENOTFOUND:     http.StatusNotFound,
	domain.ECONFLICT:     http.StatusConflict,
	domain.ERATELIMIT:    http.StatusTooManyRequests,
	domain.EUNAVAILABLE:  http.StatusServiceUnavailable,
	domain.EINTERNAL:     http.StatusInternalServerError,
}

// httpError is a wire-level error with no domain meaning (404 route, 405,
// 413, 415, 503 readiness).
type httpError struct {
	status int
	code   string
	detail string
}

func (e *httpError) Error() string { return e.detail }

func statusError(status int, code, detail string) error {
	return &httpError{status: status, code: code, detail: detail}
}

// errorBody is {"detail": "...", "code": "..."}; detail is a list of field
// errors for 422, as FastAPI sends it.
type errorBody struct {
	Detail any    `json:"detail"`
	Code   string `json:"code"`
}

// holdConflictBody is the 409 of a capture or void of a resolved hold: the
// error and the hold's current state.
type holdConflictBody struct {
	Detail string       `json:"detail"`
	Code   string       `json:"code"`
	Hold   *domain.Hold `json:"hold"`
}

type fieldErrorBody struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// writeError renders err; see renderError. Its failure lines are sampled:
// one line per distinct failure per window, since an outage fails every
// request the same way.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	renderError(w, r, s.sampledLog(), err)
}

// sampledLog is s.log, unless an identical failure line was written within
// the sampling window: then a disabled logger (the line is counted). The
// first line after the window says how many were held back.
func (s *Server) sampledLog() func(err error) *zerolog.Event {
	return func(err error) *zerolog.Event {
		write, held := s.errLogs.allow(sampleKey(err))
		if !write {
			return nil // zerolog: a nil event writes nothing
		}
		ev := s.log.Error()
		if held > 0 {
			ev = ev.Int("identical_lines_suppressed", held)
		}
		return ev
	}
}

// sampleKey says which failures count as identical: an unavailable
// database is one failure whatever the socket's address or the timeout's
// wording (an outage fails every request that way); any other failure is
// keyed by its full text.
func sampleKey(err error) string {
	code := domain.ErrorCode(err)
	if code == domain.EUNAVAILABLE {
		return code + "|" + domain.ErrorReason(err)
	}
	return code + "|" + err.Error()
}

// errorLog returns log's error event for every failure (no sampling).
func errorLog(log zerolog.Logger) func(error) *zerolog.Event {
	return func(error) *zerolog.Event { return log.Error() }
}

// renderError is the one error renderer: every error body of the API is
// written here. Errors that are not domain errors become a generic 500 and
// their cause is logged here, once.
func renderError(w http.ResponseWriter, r *http.Request, failure func(error) *zerolog.Event, err error) {
	var he *httpError
	if errors.As(err, &he) {
		writeJSON(w, he.status, errorBody{Detail: he.detail, Code: he.code})
		return
	}
	var held *domain.HoldStateError
	if errors.As(err, &held) {
		writeJSON(w, http.StatusConflict, holdConflictBody{Detail: domain.ErrorMessage(err),
			Code: domain.ErrorReason(err), Hold: held.Hold})
		return
	}
	code := domain.ErrorCode(err)
	status, ok := statusByCode[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		failure(err).Err(err).Str("request_id", requestIDFrom(r.Context())).Msg("request failed")
	}
	var domainErr *domain.Error
	errors.As(err, &domainErr)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", "Bearer")
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if domainErr != nil && domainErr.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(domainErr.RetryAfter.Seconds()+0.999)))
		}
	}
	if code == domain.EVALIDATION && domainErr != nil && len(domainErr.Fields) > 0 {
		fields := make([]fieldErrorBody, len(domainErr.Fields))
		for i, f := range domainErr.Fields {
			fields[i] = fieldErrorBody{Loc: f.Loc, Msg: f.Msg, Type: f.Type}
		}
		writeJSON(w, status, errorBody{Detail: fields, Code: domain.ReasonValidation})
		return
	}
	writeJSON(w, status, errorBody{Detail: domain.ErrorMessage(err), Code: reasonFor(err, code)})
}

func reasonFor(err error, code string) string {
	if code == domain.EINTERNAL {
		return domain.ReasonInternal
	}
	return domain.ErrorReason(err)
}
