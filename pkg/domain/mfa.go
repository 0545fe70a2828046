package domain

import (
	"context"
	"time"
)

// Second factor (TOTP, RFC 6238, with one-time recovery codes). The rules
// live in package auth (mfa.go); the rows in store (mfa.go).

// Fixed values of the second factor.
const (
	MFATokenTTL         = 5 * time.Minute // lifetime of the mfa_token of a login
	MFAMaxFailures      = 5               // wrong codes after which an mfa_token dies
	RecoveryCodeCount   = 10              // recovery codes issued on enrolment
	TOTPPeriod          = 30              // seconds per TOTP step
	TOTPDigits          = 6               // digits of a TOTP code
	TOTPSkew            = 1               // steps of clock skew accepted either side
	MethodTOTP          = "totp"          // a login's second-factor methods
	MethodRecoveryCode  = "recovery_code" //
	MethodWebAuthn      = "webauthn"      // a passkey (with webauthn.enabled and a passkey on the account)
	AMRPassword         = "pwd"           // amr values (RFC 8176)
	AMROTP              = "otp"           //
	AAL2                = "aal2"          // the aal claim after a second factor
	EmailMFAEnabled     = "mfa_enabled"   // email kinds
	EmailMFADisabled    = "mfa_disabled"  //
	AuditMFAEnabled     = "mfa.enabled"   // audit events
	AuditMFADisabled    = "mfa.disabled"  //
	AuditMFAReset       = "mfa.reset"     //
	AuditMFAChallenged  = "mfa.verified"  // a login completed with a second factor
	AuditMFAFailed      = "mfa.failed"    // a wrong code
	AuditRecoveryCodeOK = "mfa.recovery_code_used"
)

// MFAMethods are the second-factor methods a login may answer with.
var MFAMethods = []string{MethodTOTP, MethodRecoveryCode}

// TOTPFactor is a user's TOTP row. Secret is sealed (AES-256-GCM under the
// key-encryption key); it is never stored, logged or returned in clear
// except once, to the user, at enrolment.
type TOTPFactor struct {
	UserID      int64      `db:"user_id"`
	Secret      []byte     `db:"secret"`
	ConfirmedAt *time.Time `db:"confirmed_at"` // nil until a code confirmed the enrolment
	LastStep    int64      `db:"last_step"`    // the newest TOTP step used: older or equal ones are replays
	CreatedAt   time.Time  `db:"created_at"`
}

// Confirmed reports whether the factor is active.
func (f *TOTPFactor) Confirmed() bool { return f.ConfirmedAt != nil }

// MFAChallenge is the pending second step of a login: the SHA-256 of its
// mfa_token, and the wrong codes it has seen.
type MFAChallenge struct {
	TokenHash string `db:"token_hash"`
	UserID    int64  `db:"user_id"`
	// FirstFactor is the amr value of the sign-in's first step:
	// AMRPassword, or AMRFederated after an upstream provider.
	FirstFactor string    `db:"first_factor"`
	Failures    int       `db:"failures"`
	ExpiresAt   time.Time `db:"expires_at"`
	CreatedAt   time.Time `db:"created_at"`
}

// TOTPEnrollment is what POST /auth/mfa/totp shows once.
type TOTPEnrollment struct {
	Secret string // base32
	URI    string // otpauth://totp/…
	QRCode string // data:image/png;base64,…
}

// MFAPending is a login that needs its second factor.
type MFAPending struct {
	Token   string // the mfa_token: opaque, single purpose
	Methods []string
}

// SecretSealer seals small secrets under the key-encryption key (seal.Sealer).
// aad binds a sealed value to its row.
type SecretSealer interface {
	Seal(aad string, plain []byte) []byte
	Open(aad string, sealed []byte) ([]byte, error)
	// MAC is a keyed hash of msg for owner (recovery codes).
	MAC(owner string, msg []byte) []byte
}

// MFAStore keeps the second factor's rows. Every method is one transaction.
type MFAStore interface {
	// PutTOTP stores an unconfirmed sealed secret for the user, replacing an
	// unconfirmed one; ErrMFAAlreadyEnabled when a confirmed one exists,
	// ErrUserNotFound.
	PutTOTP(ctx context.Context, userID int64, sealed []byte) error
	// TOTP returns the user's factor; ErrMFANotEnrolled when none.
	TOTP(ctx context.Context, userID int64) (*TOTPFactor, error)
	// ConfirmTOTP activates the factor with the step that confirmed it,
	// replaces the recovery codes by hashes and queues mail;
	// ErrMFANotEnrolled, ErrMFAAlreadyEnabled.
	ConfirmTOTP(ctx context.Context, userID, step int64, recoveryHashes []string, mail ...*OutboundEmail) error
	// UseTOTPStep records step as used when it is newer than the last one;
	// ErrMFACodeUsed otherwise (a replay), ErrMFANotEnrolled.
	UseTOTPStep(ctx context.Context, userID, step int64) error
	// UseRecoveryCode marks the user's unused code with that hash used;
	// ErrMFACodeUsed when the user has that code but used it, ErrMFAInvalidCode
	// when the user has no such code. It returns the codes left.
	UseRecoveryCode(ctx context.Context, userID int64, hash string) (int, error)
	// DeleteTOTP removes the factor, its recovery codes and pending
	// challenges, ends every session of the user but keepSession ("": all),
	// and queues mail; ErrMFANotEnrolled.
	DeleteTOTP(ctx context.Context, userID int64, keepSession string, mail ...*OutboundEmail) error
	// MFAEnabled reports whether the user has a confirmed factor.
	MFAEnabled(ctx context.Context, userID int64) (bool, error)
	// MFAChallenge returns the unexpired challenge with that hash;
	// ErrInvalidMFAToken.
	MFAChallenge(ctx context.Context, tokenHash string) (*MFAChallenge, error)
	// AttemptMFAChallenge counts an attempt at the unexpired challenge with
	// that hash, before its code is checked, and returns it;
	// ErrInvalidMFAToken when it is gone, expired or has had maxAttempts.
	AttemptMFAChallenge(ctx context.Context, tokenHash string, maxAttempts int) (*MFAChallenge, error)
	// DeleteMFAChallenge deletes the challenge (used); ErrInvalidMFAToken when
	// it was gone already (of two concurrent uses exactly one wins).
	DeleteMFAChallenge(ctx context.Context, tokenHash string) error
}

// MFAService is the second factor's use cases (package auth). Errors as
// documented on each method of account.Service.
type MFAService interface {
	// EnrollTOTP starts the caller's enrolment (nothing active yet). It
	// asks for the caller's password unless their token's sign-in is
	// younger than RecentSignIn.
	EnrollTOTP(ctx context.Context, p *Principal, password string) (*TOTPEnrollment, error)
	// ConfirmTOTP activates it with a current code and returns the recovery codes.
	ConfirmTOTP(ctx context.Context, p *Principal, code string) ([]string, error)
	// DisableTOTP turns it off with the password and a code or recovery code.
	DisableTOTP(ctx context.Context, p *Principal, password, code, recovery string) error
	// Challenge completes a login with its mfa_token and a code or recovery code.
	Challenge(ctx context.Context, mfaToken, code, recovery string) (*AccessToken, error)
}

// StepUp asks an actor with a second factor for a current code before a
// sensitive operation (package auth implements it).
type StepUp interface {
	// RequireCode returns nil when u has no second factor on, or code is a
	// current TOTP code or an unused recovery code of u (used up);
	// ErrMFACodeRequired for "", EUNAUTHORIZED for a wrong or used code,
	// ERATELIMIT past the account's failure limit.
	RequireCode(ctx context.Context, u *User, code string) error
}
