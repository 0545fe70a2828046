package domain

import "time"

// The limits a client can meet, each a named constant written once. Client
// messages (messages.go), the OpenAPI document and the docs state the same
// numbers, and limits_test.go checks that they do.

// Identity limits: a username is MinUsernameLen–MaxUsernameLen characters of
// A-Z a-z 0-9 _ . - and an email address at most MaxEmailLen characters.
const (
	MinUsernameLen = 3
	MaxUsernameLen = 32
	MaxEmailLen    = 254
)

// Password limits, in bytes. MaxPasswordBytes is bcrypt's limit: a longer
// password is refused (422), never silently truncated.
const (
	MinPasswordBytes = 8
	MaxPasswordBytes = 72
)

// Ledger limits.
const (
	// MaxAmount is the largest amount one add or use may carry: 1,000,000,000.00.
	MaxAmount Cents = 1_000_000_000_00
	// MaxBalance is the largest balance an account may hold; an add beyond it
	// is refused (EINVALID "balance_limit") long before BIGINT could overflow.
	MaxBalance Cents = 100 * 1_000_000_000_000_000 // 10^15 credits
	// MaxReferenceLen is the longest reference_id, in characters.
	MaxReferenceLen = 128
	// MaxDescriptionLen is the longest description, in characters.
	MaxDescriptionLen = 500
	// MaxPageLimit is the largest page of every listing: history, holds, the
	// audit trail.
	MaxPageLimit = 200
)

// Defaults of settings that the configuration (config.Defaults) and the use
// cases' zero-value Options share, so each is written once.
const (
	// DefaultMaxSession is how long a login lasts at most through refreshes
	// (auth_time + this; auth.max_session_hours overrides it). The rule
	// itself is applied in package auth (session.go).
	DefaultMaxSession = 12 * time.Hour
	// DefaultFailedLoginLimit failed logins per username per
	// DefaultFailedLoginWindow are allowed, then 429 (auth.failed_login_limit,
	// auth.failed_login_window).
	DefaultFailedLoginLimit  = 100
	DefaultFailedLoginWindow = time.Hour
	// DefaultFrontendURL is the base of the links in emails (mail.frontend_url).
	DefaultFrontendURL = "http://localhost:3000"
	// DefaultVerifyTTL is the lifetime of an email verification link
	// (auth.verify_token_expire_hours).
	DefaultVerifyTTL = 24 * time.Hour
	// DefaultAuditRetention is how long audit events are kept
	// (audit.retention_days).
	DefaultAuditRetention = 90 * 24 * time.Hour
)
