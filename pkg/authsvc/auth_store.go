package authsvc

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
	// RehashPassword replaces oldHash by newHash (the same password at
	// another cost) without touching the token version; nothing when the
	// hash changed meanwhile.
	RehashPassword(ctx context.Context, userID int64, oldHash, newHash string) error
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
	// transaction; ErrInvalidResetToken.
	ConsumeResetToken(ctx context.Context, tokenHash string, userID int64, newHash string) (*User, error)
}

// LoginFailureStore counts failed logins per (lowercased) username in fixed
// windows.
type LoginFailureStore interface {
	// LoginFailures returns the count in the current window and when it
	// ends (zero when none); only EUNAVAILABLE/EINTERNAL errors.
	LoginFailures(ctx context.Context, username string, window time.Duration) (int, time.Time, error)
	// RecordLoginFailure counts one attempt atomically and returns the new
	// count and the window's end.
	RecordLoginFailure(ctx context.Context, username string, window time.Duration) (int, time.Time, error)
	// ClearLoginFailures forgets the username's count (after a success).
	ClearLoginFailures(ctx context.Context, username string) error
}

// PurgeStats counts the rows a purge of expired auth data deleted.
type PurgeStats struct {
	RevokedTokens int64
	ResetTokens   int64
	LoginFailures int64
	Sessions      int64 // past their expiry
	Verifications int64 // expired email verification links
	MFAChallenges int64 // expired mfa_tokens of logins awaiting their second factor
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
	AuthDataPurger
	SessionStore
	VerificationStore
	AuditStore
	MFAStore
}
