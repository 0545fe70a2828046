package domain

import (
	"fmt"
	"time"
)

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
	MsgCursorWithSkip   = "skip cannot be combined with cursor"
	MsgLogoutScope      = "Input should be 'local', 'others' or 'global'"
	MsgUnknownEvent     = "Unknown event name"
	MsgPageLimit        = "ensure this value is between 1 and 200" // MaxPageLimit
	// MsgReferenceTooLong and MsgDescriptionTooLong refuse text fields over
	// MaxReferenceLen and MaxDescriptionLen characters.
	MsgAmountTooLarge     = "ensure this value is less than or equal to 1000000000.00" // MaxAmount
	MsgReferenceTooLong   = "ensure this value has at most 128 characters"
	MsgDescriptionTooLong = "ensure this value has at most 500 characters"
	MsgNotNegative        = "ensure this value is greater than or equal to 0"
	MsgDateTime           = "Input should be an RFC 3339 date-time"
	MsgCursor             = "Input should be a cursor from next_cursor"
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
	ReasonDatabaseReadOnly    = "database_read_only"
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

// DatabaseRetryAfter is the Retry-After of a 503 from the database
// (unreachable, timed out or read-only): about how long a restart or a
// failover takes.
const DatabaseRetryAfter = 5 * time.Second

// Sentinel errors. Compare with errors.Is; attach a cause with With (which
// copies, so a sentinel is never changed).
var (
	ErrNotFound            = &Error{Code: ENOTFOUND, Message: "not found"}
	ErrConflict            = &Error{Code: ECONFLICT, Reason: ReasonConflict, Message: "already exists"}
	ErrUnavailable         = &Error{Code: EUNAVAILABLE, Reason: ReasonDatabaseUnavailable, Message: "database unavailable", RetryAfter: DatabaseRetryAfter}
	ErrReadOnly            = &Error{Code: EUNAVAILABLE, Reason: ReasonDatabaseReadOnly, Message: "database is read-only", RetryAfter: DatabaseRetryAfter}
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

// Signing keys (`authsvc keys`): reasons, messages and sentinels. The
// messages with %s verbs are formatted by package keys with the kid, state
// or time they name.
const (
	ReasonKeyNotFound = "key_not_found"
	ReasonKeyState    = "key_state"
	ReasonKEKRequired = "key_encryption_key_required"
	// ReasonSigningKeyUnusable: this replica cannot sign with the active
	// key (no or another key-encryption key): it is not ready.
	ReasonSigningKeyUnusable = "signing_key_unusable"

	MsgKeyNotFound       = "No signing key %s"
	MsgKeyState          = "signing key in another state"
	MsgKeyNotNext        = "Key %s is %s: only a next key can be activated (generate one)"
	MsgKeyActiveRetire   = "Key %s is active: it signs new tokens; activate another key first, or --force to refuse its tokens now and sign with HS256"
	MsgKeyTokensValid    = "Key %s is retired but tokens it signed may be valid until %s: retire it then, or --force to refuse them now"
	MsgKeyWrongKEK       = "Key %s does not decrypt with this auth.key_encryption_key"
	MsgKEKRequired       = "auth.key_encryption_key (AUTHSVC_AUTH_KEY_ENCRYPTION_KEY, at least 32 bytes) is required for signing keys"
	MsgKeyAlgUnsupported = "Unsupported key algorithm %q (use EdDSA, ES256 or RS256)"
	MsgKeyUnusable       = "this replica cannot sign with the active signing key (%v): give every replica the same auth.key_encryption_key (AUTHSVC_AUTH_KEY_ENCRYPTION_KEY)"
	MsgKeyEveryReplica   = "every replica needs auth.key_encryption_key (the same value) to sign with key %s: a replica without it answers /readyz 503"
)

var (
	// ErrKeyState is returned by the store when a signing key is not in the
	// state a change needs (a concurrent change won).
	ErrKeyState = &Error{Code: ECONFLICT, Reason: ReasonKeyState, Message: MsgKeyState}
	// ErrKEKRequired is returned when signing keys exist or are asked for and
	// no key-encryption key is configured.
	ErrKEKRequired = &Error{Code: EINVALID, Reason: ReasonKEKRequired, Message: MsgKEKRequired}
)

// Credit holds: their client wording, reasons and sentinels.
const (
	MsgHoldNotFound       = "Hold not found"
	MsgHoldNotPending     = "Hold is no longer pending"
	MsgHoldOtherUser      = "Not allowed to hold another user's credits"
	MsgCaptureExceedsHold = "ensure this value is less than or equal to the held amount"
	MsgHoldStatus         = "Input should be 'pending', 'captured', 'voided' or 'expired'"
	MsgExpiresInRange     = "ensure this value is between 1 and 604800"

	ReasonHoldNotFound   = "hold_not_found"
	ReasonHoldNotPending = "hold_not_pending"

	TypeEnum = "enum"
)

// Hold sentinels. ErrCaptureExceedsHold is the store's refusal of a capture
// above the held amount; the use case turns it into a 422 on body.amount.
var (
	ErrHoldNotFound       = &Error{Code: ENOTFOUND, Reason: ReasonHoldNotFound, Message: MsgHoldNotFound}
	ErrHoldNotPending     = &Error{Code: ECONFLICT, Reason: ReasonHoldNotPending, Message: MsgHoldNotPending}
	ErrHoldOtherUser      = &Error{Code: EFORBIDDEN, Reason: ReasonForbidden, Message: MsgHoldOtherUser}
	ErrCaptureExceedsHold = &Error{Code: EVALIDATION, Reason: "capture_exceeds_hold", Message: "capture amount exceeds the held amount"}
)

// Client messages and sentinels of the second factor.
const (
	MsgMFAInvalidCode     = "Invalid authentication code"
	MsgMFACodeUsed        = "Authentication code already used"
	MsgMFANotEnrolled     = "Two-factor authentication is not enabled"
	MsgMFAAlreadyEnabled  = "Two-factor authentication is already enabled"
	MsgMFAInvalidToken    = "Invalid or expired MFA token"
	MsgMFAEnrollRequired  = "Administrators must enable two-factor authentication first"
	MsgMFACodeOrRecovery  = "Give either code or recovery_code"
	MsgMFACodeFormat      = "Code must be 6 digits"
	MsgMFAEnabled         = "Two-factor authentication enabled"
	MsgMFADisabled        = "Two-factor authentication disabled"
	MsgMFACodeRequired    = "A current authentication code is required"
	MsgMFAKEKRequired     = "auth.key_encryption_key (AUTHSVC_AUTH_KEY_ENCRYPTION_KEY, at least 32 bytes) is required for two-factor authentication"
	ReasonMFAInvalidCode  = "invalid_mfa_code"
	ReasonMFACodeUsed     = "mfa_code_used"
	ReasonMFANotEnrolled  = "mfa_not_enabled"
	ReasonMFAEnabled      = "mfa_already_enabled"
	ReasonMFAInvalidToken = "invalid_mfa_token"
	ReasonMFAEnrollment   = "mfa_enrollment_required"
	ReasonMFACodeRequired = "mfa_code_required"
)

// Sentinels of the second factor.
var (
	ErrMFAInvalidCode    = &Error{Code: EUNAUTHORIZED, Reason: ReasonMFAInvalidCode, Message: MsgMFAInvalidCode}
	ErrMFACodeUsed       = &Error{Code: EUNAUTHORIZED, Reason: ReasonMFACodeUsed, Message: MsgMFACodeUsed}
	ErrMFANotEnrolled    = &Error{Code: EINVALID, Reason: ReasonMFANotEnrolled, Message: MsgMFANotEnrolled}
	ErrMFAAlreadyEnabled = &Error{Code: ECONFLICT, Reason: ReasonMFAEnabled, Message: MsgMFAAlreadyEnabled}
	ErrInvalidMFAToken   = &Error{Code: EUNAUTHORIZED, Reason: ReasonMFAInvalidToken, Message: MsgMFAInvalidToken}
	ErrMFAEnrollRequired = &Error{Code: EFORBIDDEN, Reason: ReasonMFAEnrollment, Message: MsgMFAEnrollRequired}
	ErrMFACodeRequired   = &Error{Code: EUNAUTHORIZED, Reason: ReasonMFACodeRequired, Message: MsgMFACodeRequired}
	// ErrMFAKEKRequired: TOTP secrets are sealed under the key-encryption
	// key, and none is configured.
	ErrMFAKEKRequired = &Error{Code: EINVALID, Reason: ReasonKEKRequired, Message: MsgMFAKEKRequired}
)

// Messages of the admin command line's newcomer checks and of user import
// (the CLI's users read these).
const (
	// MsgDatabaseMissingSQLite and MsgDatabaseMissingPostgres take the URL
	// (PostgreSQL's with the password redacted).
	MsgDatabaseMissingSQLite   = "database %s does not exist (run authsvc migrate up or authsvc serve first)"
	MsgDatabaseMissingPostgres = "database %s does not exist (create it, e.g. with createdb, then run authsvc migrate up)"
	MsgMailDriverLog           = "mail.driver is log: nothing is sent; set mail.host (MAIL_SERVER) to send through SMTP"
	MsgImportNothingKept       = "nothing was imported (fix the file, or use --continue to skip bad rows)"
	MsgImportConflictNothing   = "nothing was imported (use --continue to skip such rows)"
	MsgImportUsernameTaken     = "username belongs to an existing user with another email"
	MsgImportEmailTaken        = "email belongs to an existing user with another username"
	MsgImportPasswordDiffers   = "an existing user has this username and email but another password (registered before the import?): neither the hash nor the balance is applied; check the account, then pass --credit-existing to credit it"
	MsgImportBadUsername       = "username %q is not 3-32 characters of A-Z a-z 0-9 _ . -"
	MsgImportBadEmail          = "email %q is not a valid email address"
	MsgImportNoHash            = "hashed_password is missing"
	MsgImportBadHash           = "hashed_password is not a bcrypt hash ($2a$, $2b$ or $2y$, a two-digit cost, 53 characters of bcrypt base64)"
	MsgImportHashCost          = "hashed_password has bcrypt cost %d, above the highest accepted (%d): rehash it before the import"
	MsgImportBadBool           = "%s %q is not true or false"
	MsgImportBadTime           = "created_at %q is not a timestamp like 2024-05-01T12:00:00Z"
	MsgImportNegative          = "balance %q is negative"
	MsgImportBalanceLimit      = "the balance would exceed the largest balance an account may hold"
	MsgImportEmpty             = "the file is empty"
	MsgImportNotJSON           = "not a JSON object: %v"
	MsgImportNoColumn          = "CSV header %q has no %s column (want username, email, hashed_password, is_admin, created_at, balance)"

	ReasonDatabaseMissing  = "database_missing"
	ReasonImportUnreadable = "import_unreadable"
	ReasonImportBadRow     = "import_bad_row"
	ReasonImportConflict   = "import_conflict"
)

// Messages and sentinels of passkeys (WebAuthn).
const (
	MsgPasskeyChallenge    = "Invalid or expired passkey challenge"
	MsgPasskeyExists       = "This passkey is registered already"
	MsgPasskeyNotFound     = "Passkey not found"
	MsgPasskeySignCount    = "This passkey's signature counter went backwards; it may have been cloned"
	MsgPasskeyInvalid      = "The passkey's answer did not verify"
	MsgPasskeyUVRequired   = "This account has two-step verification: use a passkey that verifies you (PIN or biometrics)"
	MsgPasskeysOff         = "Passkeys are not enabled on this server"
	MsgPasskeyName         = "name must be 1 to 100 printable characters"
	MsgNoPasskey           = "This account has no passkey"
	MsgNoPassword          = "This account has no password: set one through a password reset"
	MsgRecentSignIn        = "This account has no password to confirm this with: sign in again and retry within 5 minutes"
	ReasonPasskeyChallenge = "invalid_passkey_challenge"
	ReasonPasskeyExists    = "passkey_exists"
	ReasonPasskeyNotFound  = "passkey_not_found"
	ReasonPasskeySignCount = "passkey_sign_count"
	ReasonPasskeyInvalid   = "passkey_invalid"
	ReasonPasskeyUV        = "passkey_user_verification_required"
	ReasonPasskeysOff      = "passkeys_disabled"
	ReasonNoPasskey        = "no_passkey"
	ReasonNoPassword       = "no_password"
	ReasonRecentSignIn     = "recent_sign_in_required"
)

// Sentinels of passkeys.
var (
	ErrPasskeyChallenge = &Error{Code: EUNAUTHORIZED, Reason: ReasonPasskeyChallenge, Message: MsgPasskeyChallenge}
	ErrPasskeyExists    = &Error{Code: ECONFLICT, Reason: ReasonPasskeyExists, Message: MsgPasskeyExists}
	ErrPasskeyNotFound  = &Error{Code: ENOTFOUND, Reason: ReasonPasskeyNotFound, Message: MsgPasskeyNotFound}
	ErrPasskeySignCount = &Error{Code: EUNAUTHORIZED, Reason: ReasonPasskeySignCount, Message: MsgPasskeySignCount}
	ErrPasskeyInvalid   = &Error{Code: EUNAUTHORIZED, Reason: ReasonPasskeyInvalid, Message: MsgPasskeyInvalid}
	ErrPasskeyUV        = &Error{Code: EUNAUTHORIZED, Reason: ReasonPasskeyUV, Message: MsgPasskeyUVRequired}
	ErrPasskeysOff      = &Error{Code: ENOTFOUND, Reason: ReasonPasskeysOff, Message: MsgPasskeysOff}
	ErrNoPasskey        = &Error{Code: EINVALID, Reason: ReasonNoPasskey, Message: MsgNoPasskey}
	// ErrNoPassword: an account without a password (made with a passkey or
	// an identity provider) has none to change.
	ErrNoPassword = &Error{Code: EINVALID, Reason: ReasonNoPassword, Message: MsgNoPassword}
	// ErrRecentSignInRequired: an account without a password confirms a
	// sensitive operation with a recent sign-in instead.
	ErrRecentSignInRequired = &Error{Code: EINVALID, Reason: ReasonRecentSignIn, Message: MsgRecentSignIn}
)

// The hosted sign-in pages (pkg/pages).
const (
	MsgPagesCrossSite      = "This form was sent from another site and was refused. Go back to the page and try again."
	MsgPagesBadForm        = "The form expired or was not sent from this page. Please try again."
	MsgPagesBadCredentials = "Wrong username, email or password."
	MsgPagesBadCode        = "That code is not valid. Try a current code from your app, or a recovery code."
	MsgPagesRateLimited    = "Too many attempts. Wait a moment, then try again."
	MsgPagesUnverified     = "Verify your email address first: follow the link we sent you."
	MsgPagesNoRequest      = "This sign-in link is unknown, expired or already used. Go back to the app and start again."
	MsgPagesNoProvider     = "Signing in to other apps is not enabled on this server."
	MsgPagesFailed         = "Something went wrong. Please try again."
	MsgPagesVerifyFirst    = "Your account is created. Follow the link we sent to your email address, then sign in."
	MsgPagesResetSent      = "If an account has this email address, we sent it a link to choose a new password."
	MsgPagesPasswordReset  = "Your password is changed, and every session of your account has ended. Sign in with the new password."
	MsgPagesEmailVerified  = "Your email address is verified."
	MsgPagesSignInAgain    = "Sign in again to add a passkey: it needs a sign-in of the last few minutes."
	MsgPagesConsentRevoked = "The app's access is revoked. It will ask again the next time you sign in to it."
)

// Messages and sentinels of upstream identity providers and linked
// identities.
const (
	MsgProviderNotFound        = "No identity provider has this name"
	MsgProviderUnavailable     = "The identity provider cannot be reached right now; try again later or sign in another way"
	MsgProviderFailed          = "The identity provider's answer could not be verified"
	MsgProviderDenied          = "The sign-in was cancelled or refused at the identity provider"
	MsgFederationState         = "Invalid, expired or already used sign-in state; start again"
	MsgFederationCode          = "Invalid, expired or already used code"
	MsgFederationVerifier      = "code_verifier does not match the code_challenge the sign-in started with"
	MsgRedirectNotAllowed      = "redirect_to is not on the allow-list (auth.redirect_allow_list)"
	MsgIdentityExists          = "An account with this email exists. Sign in with your password (or passkey) first, then link this provider from your account"
	MsgIdentityTaken           = "This provider account is linked to another user already"
	MsgIdentityNotFound        = "Identity not found"
	MsgLastSignInMethod        = "This is the account's last way to sign in: set a password or add a passkey or another provider first"
	MsgEmailDomainNotAllowed   = "This provider signs in accounts of other email domains only"
	MsgFederatedSignUpOff      = "No account is linked to this provider account, and this provider does not create accounts"
	MsgProviderEmailMissing    = "The identity provider did not share an email address"
	MsgProviderEmailUnverified = "The identity provider has not verified this email address, so no account is made for it; verify it there, or sign up another way and link the provider from your account"
	MsgCodeChallenge           = "must be an S256 PKCE challenge: 43 characters of base64url"
	MsgPagesIdentityLinked     = "The account is linked: you can sign in with it from now on."
	MsgPagesIdentityUnlinked   = "The account is unlinked."
	MsgPagesLinkSignInAgain    = "For your security, sign out and sign in again, then link the account within 5 minutes."
	ReasonProviderNotFound     = "provider_not_found"
	ReasonProviderUnavailable  = "provider_unavailable"
	ReasonProviderFailed       = "provider_error"
	ReasonProviderDenied       = "access_denied"
	ReasonFederationState      = "invalid_state"
	ReasonFederationCode       = "invalid_code"
	ReasonFederationVerifier   = "invalid_code_verifier"
	ReasonRedirectNotAllowed   = "redirect_not_allowed"
	ReasonIdentityExists       = "identity_exists"
	ReasonIdentityTaken        = "identity_taken"
	ReasonIdentityNotFound     = "identity_not_found"
	ReasonLastSignInMethod     = "last_sign_in_method"
	ReasonEmailDomain          = "email_domain_not_allowed"
	ReasonFederatedSignUpOff   = "signup_disabled"
	ReasonProviderEmail        = "provider_email_missing"
	ReasonProviderUnverified   = "provider_email_unverified"
)

// Sentinels of upstream identity providers and linked identities.
var (
	ErrProviderNotFound        = &Error{Code: ENOTFOUND, Reason: ReasonProviderNotFound, Message: MsgProviderNotFound}
	ErrProviderUnavailable     = &Error{Code: EUNAVAILABLE, Reason: ReasonProviderUnavailable, Message: MsgProviderUnavailable}
	ErrProviderFailed          = &Error{Code: EUNAUTHORIZED, Reason: ReasonProviderFailed, Message: MsgProviderFailed}
	ErrFederationState         = &Error{Code: EINVALID, Reason: ReasonFederationState, Message: MsgFederationState}
	ErrFederationCode          = &Error{Code: EINVALID, Reason: ReasonFederationCode, Message: MsgFederationCode}
	ErrFederationVerifier      = &Error{Code: EINVALID, Reason: ReasonFederationVerifier, Message: MsgFederationVerifier}
	ErrRedirectNotAllowed      = &Error{Code: EINVALID, Reason: ReasonRedirectNotAllowed, Message: MsgRedirectNotAllowed}
	ErrIdentityExists          = &Error{Code: ECONFLICT, Reason: ReasonIdentityExists, Message: MsgIdentityExists}
	ErrIdentityTaken           = &Error{Code: ECONFLICT, Reason: ReasonIdentityTaken, Message: MsgIdentityTaken}
	ErrIdentityNotFound        = &Error{Code: ENOTFOUND, Reason: ReasonIdentityNotFound, Message: MsgIdentityNotFound}
	ErrLastSignInMethod        = &Error{Code: ECONFLICT, Reason: ReasonLastSignInMethod, Message: MsgLastSignInMethod}
	ErrEmailDomainNotAllowed   = &Error{Code: EFORBIDDEN, Reason: ReasonEmailDomain, Message: MsgEmailDomainNotAllowed}
	ErrFederatedSignUpOff      = &Error{Code: EFORBIDDEN, Reason: ReasonFederatedSignUpOff, Message: MsgFederatedSignUpOff}
	ErrProviderEmailMissing    = &Error{Code: EFORBIDDEN, Reason: ReasonProviderEmail, Message: MsgProviderEmailMissing}
	ErrProviderEmailUnverified = &Error{Code: EFORBIDDEN, Reason: ReasonProviderUnverified, Message: MsgProviderEmailUnverified}
)
