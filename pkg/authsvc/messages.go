package authsvc

import "fmt"

// The one table of client messages: every sentence a client of the HTTP API
// (or a user of the CLI) reads comes from here, so that none is written
// twice. Reasons are the machine-readable `code` strings of error bodies.
const (
	MsgInternal            = "Internal server error"
	MsgValidationFailed    = "validation failed"
	MsgFieldRequired       = "Field required"
	MsgNotFound            = "Not Found"
	MsgMethodNotAllowed    = "Method Not Allowed"
	MsgUnsupportedMedia    = "Content-Type must be application/json"
	MsgServiceNotReady     = "Service not ready"
	MsgTooManyRequests     = "Too many requests"
	MsgNotAuthenticated    = "Not authenticated"
	MsgCouldNotValidate    = "Could not validate credentials"
	MsgInvalidCredentials  = "Incorrect username or password"
	MsgWrongPassword       = "Incorrect password"
	MsgSessionExpired      = "Session expired, please log in again"
	MsgForbiddenOtherUser  = "Not authorized to act on another user"
	MsgForbiddenViewOthers = "Not authorized to view other users"
	MsgAdminOnlyAdd        = "Only administrators may add credits"
	MsgAddToOtherUser      = "Not allowed to add credits to another user"
	MsgUsernameTaken       = "Username already registered"
	MsgEmailTaken          = "Email already registered"
	MsgUserNotFound        = "User not found"
	MsgInvalidResetToken   = "Invalid or expired reset token"
	MsgInsufficientCredits = "Insufficient credits"
	MsgIdempotencyConflict = "reference_id was already used with a different amount"
	MsgUnstorableText      = "Text contains characters that cannot be stored (NUL or invalid UTF-8)"
	MsgTokenLifetime       = "Token lifetime must be positive"
	MsgAdminsOnly          = "Administrators only"
	MsgSessionNotFound     = "Session not found"
	MsgSessionEnded        = "Session ended"
	MsgInvalidVerifyToken  = "Invalid or expired verification token"
	MsgEmailNotVerified    = "Email address not verified"
	MsgEmailVerified       = "Email verified successfully"
	MsgVerificationSent    = "Verification email sent if the account exists and is not verified yet"
	MsgEmailUpdated        = "Email updated successfully"
	MsgEmailChangePending  = "Confirmation link sent to the new address; the email changes once it is confirmed"

	// Field messages of the 422 list.
	MsgUsernameTooShort = "Username must be at least 3 characters long"
	MsgUsernameTooLong  = "Username must be at most 32 characters long"
	MsgUsernamePattern  = "Username may contain only letters, digits, '_', '.' and '-'"
	MsgEmailTooLong     = "Email must be at most 254 characters long"
	MsgEmailInvalid     = "value is not a valid email address"
	MsgPasswordTooShort = "Password must be at least 8 bytes long"
	MsgPasswordTooLong  = "Password must be at most 72 bytes long (longer passwords are not truncated)"
	MsgPasswordCommon   = "This password is too common; choose another"
	MsgExtraField       = "extra fields not permitted"
	MsgInvalidJSON      = "invalid JSON"
	MsgTrailingJSON     = "unexpected data after the JSON value"
	MsgNotAnObject      = "value is not a valid object"
	MsgNotAnInteger     = "value is not a valid integer"
	MsgPositiveInteger  = "Input should be a positive integer"
	MsgInvalidForm      = "invalid form body"
	MsgNoNUL            = "must not contain NUL characters"
	MsgLogoutScope      = "Input should be 'local', 'others' or 'global'"
	MsgUnknownEvent     = "Unknown event name"
	MsgPageLimit        = "Input should be between 1 and 200"
	MsgDateTime         = "Input should be an RFC 3339 date-time"
	MsgCursor           = "Input should be a cursor from next_cursor"
	MsgInvalidCursor    = "invalid cursor: pass the next_cursor of a previous page"
	MsgCursorWithSkip   = "skip cannot be combined with cursor"
)

// Reasons: the `code` of an error body (besides the codes' own names).
const (
	ReasonValidation          = "validation_error"
	ReasonInternal            = "internal"
	ReasonNotAuthenticated    = "not_authenticated"
	ReasonInvalidToken        = "invalid_token"
	ReasonTokenExpired        = "token_expired"
	ReasonInvalidCredentials  = "invalid_credentials"
	ReasonSessionExpired      = "session_expired"
	ReasonForbidden           = "forbidden"
	ReasonRateLimited         = "rate_limited"
	ReasonUsernameTaken       = "username_taken"
	ReasonEmailTaken          = "email_taken"
	ReasonUserNotFound        = "user_not_found"
	ReasonTokenRevoked        = "token_revoked"
	ReasonInsufficientCredits = "insufficient_credits"
	ReasonBalanceLimit        = "balance_limit"
	ReasonIdempotency         = "idempotency_conflict"
	ReasonInvalidText         = "invalid_text"
	ReasonPasswordTooLong     = "password_too_long"
	ReasonDatabaseUnavailable = "database_unavailable"
	ReasonConflict            = "conflict"
	ReasonSessionNotFound     = "session_not_found"
	ReasonEmailNotVerified    = "email_not_verified"
)

// The 422 `type` names: FastAPI on pydantic v2's, the names the original's
// clients see. Every field error uses one of these.
const (
	TypeMissing             = "missing"
	TypeStringTooShort      = "string_too_short"
	TypeStringTooLong       = "string_too_long"
	TypeStringPattern       = "string_pattern_mismatch"
	TypeStringType          = "string_type"
	TypeValueError          = "value_error"
	TypeExtraForbidden      = "extra_forbidden"
	TypeJSONInvalid         = "json_invalid"
	TypeModelAttributesType = "model_attributes_type"
	TypeIntParsing          = "int_parsing"
	TypeIntType             = "int_type"
	TypeBoolType            = "bool_type"
	TypeFloatType           = "float_type"
	TypeGreaterThan         = "greater_than"
	TypeGreaterThanEqual    = "greater_than_equal"
	TypeLessThanEqual       = "less_than_equal"
	TypeDecimalParsing      = "decimal_parsing"
	TypeDecimalType         = "decimal_type"
	TypeDecimalMaxPlaces    = "decimal_max_places"
	TypeLiteralError        = "literal_error"
	TypeDatetimeParsing     = "datetime_parsing"
)

// Sentinel errors. Compare with errors.Is; attach a cause with With (which
// copies, so a sentinel is never changed).
var (
	ErrNotFound            = &Error{Code: ENOTFOUND, Message: "not found"}
	ErrConflict            = &Error{Code: ECONFLICT, Reason: ReasonConflict, Message: "already exists"}
	ErrUnavailable         = &Error{Code: EUNAVAILABLE, Reason: ReasonDatabaseUnavailable, Message: "database unavailable"}
	ErrInvalidText         = &Error{Code: EINVALID, Reason: ReasonInvalidText, Message: MsgUnstorableText}
	ErrUserNotFound        = &Error{Code: ENOTFOUND, Reason: ReasonUserNotFound, Message: MsgUserNotFound}
	ErrUsernameTaken       = &Error{Code: ECONFLICT, Reason: ReasonUsernameTaken, Message: MsgUsernameTaken}
	ErrEmailTaken          = &Error{Code: ECONFLICT, Reason: ReasonEmailTaken, Message: MsgEmailTaken}
	ErrTokenRevoked        = &Error{Code: ECONFLICT, Reason: ReasonTokenRevoked, Message: "token already revoked"}
	ErrInvalidResetToken   = &Error{Code: EINVALID, Reason: ReasonInvalidToken, Message: MsgInvalidResetToken}
	ErrInsufficientCredits = &Error{Code: EINVALID, Reason: ReasonInsufficientCredits, Message: MsgInsufficientCredits}
	ErrBalanceLimit        = &Error{Code: EINVALID, Reason: ReasonBalanceLimit,
		Message: fmt.Sprintf("Balance would exceed the limit of %s credits", MaxBalance)}
	ErrIdempotencyConflict = &Error{Code: ECONFLICT, Reason: ReasonIdempotency, Message: MsgIdempotencyConflict}
	ErrInvalidCredentials  = &Error{Code: EUNAUTHORIZED, Reason: ReasonInvalidCredentials, Message: MsgInvalidCredentials}
	ErrWrongPassword       = &Error{Code: EUNAUTHORIZED, Reason: ReasonInvalidCredentials, Message: MsgWrongPassword}
	ErrInvalidToken        = &Error{Code: EUNAUTHORIZED, Reason: ReasonInvalidToken, Message: MsgCouldNotValidate}
	ErrTokenExpired        = &Error{Code: EUNAUTHORIZED, Reason: ReasonTokenExpired, Message: MsgCouldNotValidate}
	ErrNotAuthenticated    = &Error{Code: EUNAUTHORIZED, Reason: ReasonNotAuthenticated, Message: MsgNotAuthenticated}
	ErrSessionExpired      = &Error{Code: EUNAUTHORIZED, Reason: ReasonSessionExpired, Message: MsgSessionExpired}
	ErrForbiddenOtherUser  = &Error{Code: EFORBIDDEN, Reason: ReasonForbidden, Message: MsgForbiddenOtherUser}
	ErrForbiddenViewOthers = &Error{Code: EFORBIDDEN, Reason: ReasonForbidden, Message: MsgForbiddenViewOthers}
	ErrAdminOnlyAdd        = &Error{Code: EFORBIDDEN, Reason: ReasonForbidden, Message: MsgAdminOnlyAdd}
	ErrAddToOtherUser      = &Error{Code: EFORBIDDEN, Reason: ReasonForbidden, Message: MsgAddToOtherUser}
	ErrRateLimited         = &Error{Code: ERATELIMIT, Reason: ReasonRateLimited, Message: MsgTooManyRequests}
	ErrEmailLeaseLost      = &Error{Code: ECONFLICT, Reason: "email_lease_lost", Message: "email no longer claimed"}
	ErrPasswordTooLong     = &Error{Code: EINVALID, Reason: ReasonPasswordTooLong, Message: MsgPasswordTooLong}
	ErrTokenLifetime       = &Error{Code: EINVALID, Message: MsgTokenLifetime}
	ErrAdminsOnly          = &Error{Code: EFORBIDDEN, Reason: ReasonForbidden, Message: MsgAdminsOnly}
	ErrSessionNotFound     = &Error{Code: ENOTFOUND, Reason: ReasonSessionNotFound, Message: MsgSessionNotFound}
	ErrInvalidVerifyToken  = &Error{Code: EINVALID, Reason: ReasonInvalidToken, Message: MsgInvalidVerifyToken}
	ErrEmailNotVerified    = &Error{Code: EFORBIDDEN, Reason: ReasonEmailNotVerified, Message: MsgEmailNotVerified}
	// ErrEmailTakenOnChange is an email change (or its confirmation) to a
	// taken address: 400, as the original answered.
	ErrEmailTakenOnChange = &Error{Code: EINVALID, Reason: ReasonEmailTaken, Message: MsgEmailTaken}
)
