package domain

import (
	"context"
	"time"
)

// The storage ports of the account use cases (package auth), one small
// interface per concern. Package store implements them all; errors are the
// sentinels of messages.go (compare with errors.Is) or carry their codes.

// AccountStore changes and deletes user rows.
type AccountStore interface {
	// UpdatePassword sets the hash, bumps the token version and retires the
	// user's reset tokens; ErrUserNotFound.
	UpdatePassword(ctx context.Context, userID int64, hash string) (*User, error)
	// UpdateEmail sets the (lowercased, unverified) email, bumps the token
	// version, retires reset and verification links, ends the sessions and
	// stores verify (the new address's link, when not nil) and queues mail in
	// the same transaction; ErrUserNotFound, ErrEmailTaken.
	UpdateEmail(ctx context.Context, userID int64, email string, verify *EmailVerification, mail ...*OutboundEmail) (*User, error)
	// SetAdmin grants or revokes admin rights; ErrUserNotFound.
	SetAdmin(ctx context.Context, userID int64, isAdmin bool) (*User, error)
	// DeleteUser deletes the user and their rows; ErrUserNotFound.
	DeleteUser(ctx context.Context, userID int64) error
}

// TokenStore backs access-token checks and revocation.
type TokenStore interface {
	// AuthUser returns the user, whether jti is revoked and whether the
	// session sessionID is alive, in one query; ErrUserNotFound.
	AuthUser(ctx context.Context, userID int64, jti, sessionID string) (*AuthCheck, error)
	// RevokeToken lists jti as revoked until expiresAt; ErrTokenRevoked when
	// it already was (of two concurrent revocations exactly one wins).
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error
}

// AuthCheck is what the one query of an authenticated request learns.
type AuthCheck struct {
	User         *User
	Revoked      bool // the jti is on the revocation list
	SessionAlive bool // the session exists, is the user's and has not expired
}

// ResetStore keeps single-use password-reset tokens (by hash).
type ResetStore interface {
	// CreateResetToken stores the hash and queues mail unless the user got a
	// token less than minInterval ago (then false); ErrUserNotFound.
	CreateResetToken(ctx context.Context, userID int64, tokenHash string, expiresAt time.Time,
		minInterval time.Duration, mail ...*OutboundEmail) (bool, error)
	// ConsumeResetToken uses the token and sets the new hash in one
	// transaction; ErrInvalidResetToken. An account whose email was never
	// verified is claimed by it: the email becomes verified, and its
	// passkeys, linked identities and links in progress are removed.
	ConsumeResetToken(ctx context.Context, tokenHash string, userID int64, newHash string) (*User, error)
}

// LoginFailureStore counts failed logins per (lowercased) username in fixed
// windows: a window starts at the first attempt after the previous one ended.
type LoginFailureStore interface {
	// CountLoginAttempt counts one attempt for username, before its password
	// is compared, unless limit attempts are counted in the current window
	// already: then nothing is written and the attempt is Refused. Atomic:
	// of any number of concurrent attempts at most limit are counted.
	CountLoginAttempt(ctx context.Context, username string, limit int, window time.Duration) (LoginAttempt, error)
	// ClearLoginFailures forgets the username's count (after a success).
	ClearLoginFailures(ctx context.Context, username string) error
}

// LoginAttempt is what counting one login attempt found.
type LoginAttempt struct {
	Failures  int       // attempts counted in the window, this one included
	WindowEnd time.Time // when the window ends
	Refused   bool      // the limit was reached before: this one was not counted
}

// LoginStore runs a password login in two database round trips: one before
// the password compare, one after it.
type LoginStore interface {
	// BeginLogin is CountLoginAttempt and, in the same round trip, the user
	// whose username is username (case-insensitively; nil when none or when
	// the attempt is refused) and whether that user has a confirmed second
	// factor.
	BeginLogin(ctx context.Context, username string, limit int, window time.Duration) (*LoginStart, error)
	// FinishLogin writes what a login's password check decided, with the
	// audit events of ctx, in one transaction (one round trip on
	// PostgreSQL); ErrUserNotFound when the user was deleted meanwhile.
	FinishLogin(ctx context.Context, f *LoginFinish) error
}

// LoginStart is what BeginLogin read.
type LoginStart struct {
	LoginAttempt
	User       *User // nil when no account has the name, or when Refused
	MFAEnabled bool  // User has a confirmed second factor
	// HasPasskeys: User has a passkey, a second factor too (MethodWebAuthn).
	HasPasskeys bool
}

// LoginFinish is the writes after a login's password compare; every field
// is optional.
type LoginFinish struct {
	// ClearFailures is the lowercased username whose failed logins are
	// forgotten ("" keeps them: a second factor still has to be given).
	ClearFailures string
	// Rehash, when not nil, replaces the user's hash made at another cost.
	Rehash *Rehash
	// Session is the session the login starts (no second factor).
	Session *Session
	// Challenge is the login's pending second factor.
	Challenge *MFAChallenge
}

// Rehash replaces OldHash by NewHash (the same password at the configured
// cost); nothing when the hash changed meanwhile (a concurrent password
// change wins).
type Rehash struct {
	UserID           int64
	OldHash, NewHash string
}

// PurgeStats counts the rows a purge of expired auth data deleted.
type PurgeStats struct {
	RevokedTokens int64
	ResetTokens   int64
	LoginFailures int64
	Sessions      int64 // past their expiry
	Verifications int64 // expired email verification links
	MFAChallenges int64 // expired mfa_tokens of logins awaiting their second factor
	// PasskeyChallenges are expired challenges of passkey ceremonies.
	PasskeyChallenges int64
	// FederationFlows and FederationCodes are expired sign-ins through
	// upstream providers.
	FederationFlows int64
	FederationCodes int64
}

// AuthDataPurger deletes expired revocations and reset tokens, and login
// counters whose window has ended.
type AuthDataPurger interface {
	Purge(ctx context.Context, loginWindow time.Duration) (PurgeStats, error)
}

// AuthStore is every port the account use cases run on.
type AuthStore interface {
	UserStore
	AccountStore
	TokenStore
	ResetStore
	LoginFailureStore
	LoginStore
	AuthDataPurger
	SessionStore
	VerificationStore
	AuditStore
	MFAStore
	PasskeyStore
	FederationStore
}
