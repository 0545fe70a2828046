package domain

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to one HTTP status (httpapi) and one CLI exit code (cmd).
const (
	EINVALID      = "invalid"      // 400: a well-formed request that cannot be done (bad reset token, insufficient credits)
	EVALIDATION   = "validation"   // 422: one or more fields are malformed; see Error.Fields
	EUNAUTHORIZED = "unauthorized" // 401: missing or bad credentials
	EFORBIDDEN    = "forbidden"    // 403: authenticated but not allowed
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // 409: already exists, idempotency clash
	ERATELIMIT    = "rate_limited" // 429
	EUNAVAILABLE  = "unavailable"  // 503: the database cannot be reached
	EINTERNAL     = "internal"     // 500: anything unexpected
)

// Error is the application error. Code is one of the E* constants; Reason is the
// machine-readable "code" string sent to clients (defaults to Code when empty);
// Message is safe to show to a user.
type Error struct {
	Code    string
	Reason  string
	Message string
	Fields  []FieldError
	// RetryAfter, when set on an ERATELIMIT error, tells the client when to try again.
	RetryAfter time.Duration
	Err        error // the cause, for logs; never shown to clients
}

// FieldError describes one bad input field, in the FastAPI 422 shape.
type FieldError struct {
	Loc  []string // e.g. ["body", "email"]
	Msg  string
	Type string // e.g. "value_error", "missing"
}

// Error implements the error interface.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", msg, e.Err)
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, reason and
// message, so that errors.Is matches a sentinel (see messages.go) whatever
// cause was attached to it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Reason == e.Reason && t.Message == e.Message
}

// With returns a copy of e with cause attached (for logs; never shown).
func (e *Error) With(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// WithRetryAfter returns a copy of e that tells the client to retry after d.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NewError returns an *Error with a code, a client-facing reason and a message.
func NewError(code, reason, message string) *Error {
	return &Error{Code: code, Reason: reason, Message: message}
}

// ValidationError returns an EVALIDATION error listing the given fields.
func ValidationError(fields ...FieldError) *Error {
	return &Error{Code: EVALIDATION, Reason: ReasonValidation, Message: MsgValidationFailed, Fields: fields}
}

// ErrorCode returns the code of err, EINTERNAL for non-application errors and
// "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorReason returns the client-facing machine code of err.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Reason != "" {
			return e.Reason
		}
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err; a generic text for
// non-application errors so that internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL && e.Message != "" {
		return e.Message
	}
	return MsgInternal
}

// Validator collects field errors so that a request reports every bad field at once.
type Validator struct {
	fields []FieldError
}

// Add records a bad field. loc is the location, e.g. "body", "email".
func (v *Validator) Add(msg, typ string, loc ...string) {
	v.fields = append(v.fields, FieldError{Loc: loc, Msg: msg, Type: typ})
}

// Err returns a validation *Error if any field was added, else nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return ValidationError(v.fields...)
}
