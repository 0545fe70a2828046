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

// Defaults of settings. config.Defaults (the one table of defaults) takes
// them from here; the docs and the OpenAPI text are checked against them.
// The use cases never default a setting: their Options come from the
// configuration.
const (
	// DefaultMaxSession is how long a login lasts at most through refreshes
	// (auth_time + this; auth.max_session_hours overrides it). The rule
	// itself is applied in package account (session.go).
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

// Defaults of settings of the ledger and of key rotation (config.Defaults).
const (
	// DefaultGroupCommitMaxBatch bounds the debits and holds one group
	// commit applies (credits.group_commit_max_batch).
	DefaultGroupCommitMaxBatch = 64
	// DefaultKeysRefreshInterval is how often every replica re-reads the
	// signing keys (auth.keys_refresh_interval).
	DefaultKeysRefreshInterval = 5 * time.Second
)

// MaxBcryptCost is the highest bcrypt cost authsvc hashes with
// (auth.bcrypt_cost) or accepts from `user import`: a login at cost 15 takes
// seconds of a core, and at 31 days.
const MaxBcryptCost = 14

// RecentSignIn is how recent a sign-in (a token's auth_time) must be for
// enrolling a second factor without typing the password again.
const RecentSignIn = 5 * time.Minute

// Email throttles: at most one password-reset email, and one verification
// email (a resend), per account per interval.
const (
	ResetEmailInterval  = time.Minute
	VerifyEmailInterval = time.Minute
)
