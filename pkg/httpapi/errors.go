package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/authsvc/authsvc/pkg/authsvc"
)

// statusByCode maps domain error codes to HTTP statuses.
var statusByCode = map[string]int{
	authsvc.EINVALID:      http.StatusBadRequest,
	authsvc.EVALIDATION:   http.StatusUnprocessableEntity,
	authsvc.EUNAUTHORIZED: http.StatusUnauthorized,
	authsvc.EFORBIDDEN:    http.StatusForbidden,
	authsvc.ENOTFOUND:     http.StatusNotFound,
	authsvc.ECONFLICT:     http.StatusConflict,
	authsvc.ERATELIMIT:    http.StatusTooManyRequests,
	authsvc.EUNAVAILABLE:  http.StatusServiceUnavailable,
	authsvc.EINTERNAL:     http.StatusInternalServerError,
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

type fieldErrorBody struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// writeError renders err. Errors that are not domain errors become a generic
// 500 and their cause is logged here, once.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		writeJSON(w, he.status, errorBody{Detail: he.detail, Code: he.code})
		return
	}
	code := authsvc.ErrorCode(err)
	status, ok := statusByCode[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		// One line per distinct failure per window: an outage fails every
		// request the same way.
		if write, held := s.errLogs.allow(code + "|" + err.Error()); write {
			ev := s.log.Error().Err(err).Str("request_id", requestIDFrom(r.Context()))
			if held > 0 {
				ev = ev.Int("identical_lines_suppressed", held)
			}
			ev.Msg("request failed")
		}
	}
	var domainErr *authsvc.Error
	errors.As(err, &domainErr)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", "Bearer")
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if domainErr != nil && domainErr.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(domainErr.RetryAfter.Seconds()+0.999)))
		}
	}
	if code == authsvc.EVALIDATION && domainErr != nil && len(domainErr.Fields) > 0 {
		fields := make([]fieldErrorBody, len(domainErr.Fields))
		for i, f := range domainErr.Fields {
			fields[i] = fieldErrorBody{Loc: f.Loc, Msg: f.Msg, Type: f.Type}
		}
		writeJSON(w, status, errorBody{Detail: fields, Code: "validation_error"})
		return
	}
	writeJSON(w, status, errorBody{Detail: authsvc.ErrorMessage(err), Code: reasonFor(err, code)})
}

func reasonFor(err error, code string) string {
	if code == authsvc.EINTERNAL {
		return "internal"
	}
	return authsvc.ErrorReason(err)
}
