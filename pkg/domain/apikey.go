package domain

import (
	"context"
	"encoding/json"
	"time"
)

// The built-in API key scopes: what a key may do on authsvc itself. Other
// scopes are opaque strings kept and returned for the product's own use.
const (
	ScopeProfileRead = "profile:read" // GET /auth/me
	ScopeCreditsRead = "credits:read" // GET /credits/balance, /credits/transactions
	ScopeCreditsUse  = "credits:use"  // POST /credits/use
	ScopeCreditsHold = "credits:hold" // the /credits/holds endpoints
)

// Email kinds and their data key: the owner is told of every key made or
// revoked.
const (
	EmailAPIKeyCreated = "api_key_created"
	EmailAPIKeyRevoked = "api_key_revoked"
	EmailKeyAPIKeyName = "key_name" // api_key_created, api_key_revoked: the key's name and prefix
)

// Limits of an API key's fields.
const (
	MaxAPIKeyName   = 100
	MaxAPIKeyScopes = 20
	MaxAPIKeyScope  = 64
	// MaxAPIKeyRate is the highest rate_limit_per_minute.
	MaxAPIKeyRate = 1_000_000
	// APIKeyCacheTTL is how long a replica answers for a key from memory
	// before it reads the key again: a revocation, a deletion or a logout
	// reaches every replica within it.
	APIKeyCacheTTL = time.Second
)

// APIKey is one of a user's API keys. The secret itself is never stored:
// only its SHA-256 (Hash) and its first characters (Shown).
type APIKey struct {
	ID         string     `json:"id"`
	UserID     int64      `json:"-"`
	Name       string     `json:"name"`
	Shown      string     `json:"prefix"`
	Hash       string     `json:"-"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// TokenVersion is the user's token version when the key was made: a
	// logout of every session, a password change or reset ends the key as
	// it ends the user's tokens.
	TokenVersion int64 `json:"-"`
	// RateLimitPerMinute bounds the key's verifications and requests; nil
	// means no limit of its own.
	RateLimitPerMinute *int `json:"rate_limit_per_minute"`
	// SpendLimit bounds what POST /keys/verify may charge through the key;
	// nil means none beyond the balance.
	SpendLimit *SpendLimit `json:"spend_limit"`
	RevokedAt  *time.Time  `json:"-"`
}

// SpendLimit is at most Amount charged per Period ("day" and "month" are
// UTC calendar periods; "total" is the key's lifetime).
type SpendLimit struct {
	Amount Cents  `json:"amount"`
	Period string `json:"period"`
}

// Spend-limit periods.
const (
	SpendPerDay   = "day"
	SpendPerMonth = "month"
	SpendTotal    = "total"
)

// PeriodStart is the start of the spend period containing t.
func (l *SpendLimit) PeriodStart(t time.Time) time.Time {
	t = t.UTC()
	switch l.Period {
	case SpendPerDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case SpendPerMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Unix(0, 0).UTC()
}

// HasScope reports whether the key carries scope.
func (k *APIKey) HasScope(scope string) bool {
	for _, s := range k.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// NewAPIKey is the body of POST /auth/api-keys.
type NewAPIKey struct {
	Name               string         `json:"name"`
	Scopes             []string       `json:"scopes"`
	ExpiresAt          *time.Time     `json:"expires_at"`
	RateLimitPerMinute *int           `json:"rate_limit_per_minute"`
	SpendLimit         *NewSpendLimit `json:"spend_limit"`
}

// NewSpendLimit is a spend limit as a client writes it (the amount as a
// decimal string or number, like every amount).
type NewSpendLimit struct {
	Amount json.RawMessage `json:"amount"` // as ParseAmount reads it: "10.00" or 10.00
	Period string          `json:"period"`
}

// VerifyRequest is the body of POST /keys/verify: is Key good (and does it
// carry Scopes), and, with Cost, charge its owner.
type VerifyRequest struct {
	Key    string      `json:"key"`
	Cost   *VerifyCost `json:"cost"`
	Scopes []string    `json:"scopes"`
}

// VerifyCost is what to charge for the call being verified; ReferenceID
// makes the charge idempotent.
type VerifyCost struct {
	Amount      json.RawMessage `json:"amount"` // as ParseAmount reads it
	ReferenceID string          `json:"reference_id"`
	Description *string         `json:"description"`
}

// VerifyResult is the answer of POST /keys/verify: always 200, Valid false
// with a Code when the key may not be used.
type VerifyResult struct {
	Valid     bool            `json:"valid"`
	Code      string          `json:"code,omitempty"`
	KeyID     string          `json:"key_id,omitempty"`
	UserID    int64           `json:"user_id,omitempty"`
	Username  string          `json:"username,omitempty"`
	Scopes    []string        `json:"scopes,omitempty"`
	Balance   *Cents          `json:"balance,omitempty"`
	RateLimit *VerifyRateInfo `json:"rate_limit,omitempty"`
}

// VerifyRateInfo is the key's own rate limit after this call.
type VerifyRateInfo struct {
	Remaining int   `json:"remaining"`
	Reset     int64 `json:"reset"` // seconds until the key's allowance is full again
}

// The codes of an invalid verification.
const (
	VerifyNotFound            = "not_found"
	VerifyExpired             = "expired"
	VerifyRevoked             = "revoked"
	VerifyRateLimited         = "rate_limited"
	VerifyInsufficientCredits = "insufficient_credits"
	VerifySpendLimit          = "spend_limit"
	VerifyMissingScope        = "missing_scope"
)

// APIKeyVerifier answers POST /keys/verify for services.
type APIKeyVerifier interface {
	Verify(ctx context.Context, req VerifyRequest) (*VerifyResult, error)
}

// CreatedAPIKey is a new key with its secret, shown this once.
type CreatedAPIKey struct {
	*APIKey
	Key string `json:"key"`
}

// APIKeyStore persists API keys. EUNAVAILABLE when the database cannot be
// reached.
type APIKeyStore interface {
	// CreateAPIKey inserts k (its ID is set by the caller); ENOTFOUND when
	// the user is gone.
	CreateAPIKey(ctx context.Context, k *APIKey, mail ...*OutboundEmail) error
	// APIKeys lists the user's keys that are not revoked, newest first.
	APIKeys(ctx context.Context, userID int64) ([]*APIKey, error)
	// APIKey returns the user's live key id; ErrAPIKeyNotFound when the
	// user has no such live key.
	APIKey(ctx context.Context, userID int64, id string) (*APIKey, error)
	// RevokeAPIKey revokes the user's key id and queues mail in the same
	// transaction; ErrAPIKeyNotFound when the user has no such live key.
	RevokeAPIKey(ctx context.Context, userID int64, id string, mail ...*OutboundEmail) error
	// APIKeyByHash is the one indexed lookup of a request with a key: the
	// live key with that hash and its user as it is now. ENOTFOUND when
	// there is none (never issued, or revoked).
	APIKeyByHash(ctx context.Context, hash string) (*APIKey, *User, error)
	// TouchAPIKey sets the key's last_used_at to at unless it is as recent.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
	// ReserveAPIKeySpend counts amount against k's spend limit for the
	// period starting at periodStart, under reference, in one transaction:
	// repeat is true (and nothing counted) when reference was counted
	// before; ErrSpendLimit when the period's total would pass the limit.
	ReserveAPIKeySpend(ctx context.Context, k *APIKey, reference string, amount Cents, periodStart time.Time) (repeat bool, err error)
	// ReleaseAPIKeySpend undoes a reservation whose charge did not happen.
	ReleaseAPIKeySpend(ctx context.Context, k *APIKey, reference string, amount Cents, periodStart time.Time) error
}

// APIKeyService is the API key use cases.
type APIKeyService interface {
	// CreateAPIKey makes a key for the caller and returns it with its
	// secret; the caller must have signed in (never with an API key).
	CreateAPIKey(ctx context.Context, p *Principal, req NewAPIKey) (*CreatedAPIKey, error)
	// APIKeys lists the caller's live keys.
	APIKeys(ctx context.Context, p *Principal) ([]*APIKey, error)
	// RevokeAPIKey revokes one of the caller's keys.
	RevokeAPIKey(ctx context.Context, p *Principal, id string) error
	// Authenticate turns a key into a Principal with APIKey set:
	// ErrInvalidAPIKey for a malformed (checked before any query), unknown,
	// revoked or expired key, or one whose user logged out everywhere.
	Authenticate(ctx context.Context, key string) (*Principal, error)
}

// Client messages and sentinels of API keys.
const (
	MsgAPIKeyNotAllowed = "API keys cannot be used on this endpoint; sign in instead"
	MsgAPIKeyScope      = "The API key lacks the scope this endpoint needs"
	MsgAPIKeyNotFound   = "API key not found"
	MsgAPIKeyInvalid    = "Invalid API key"
	MsgAPIKeyRevoked    = "API key revoked"
	MsgAPIKeyExpiresAt  = "expires_at must be in the future"
	MsgAPIKeyScopes     = "give 1 to 20 scopes of 1 to 64 printable characters, each once"
	MsgAPIKeyName       = "name must be 1 to 100 characters"
	MsgAPIKeyRateLimit  = "rate_limit_per_minute must be between 1 and 1000000"
	MsgAPIKeySpendLimit = "spend_limit needs an amount above 0 and a period: day, month or total"
	MsgVerifyCost       = "cost needs an amount and a reference_id"
	MsgVerifierRequired = "A verifier secret or a client token with the keys:verify scope is required"

	ReasonAPIKeyNotAllowed = "api_key_not_allowed"
	ReasonAPIKeyScope      = "missing_scope"
	ReasonAPIKeyNotFound   = "api_key_not_found"
	ReasonAPIKeyInvalid    = "invalid_api_key"
)

// API key sentinels.
var (
	ErrAPIKeyNotAllowed = &Error{Code: EFORBIDDEN, Reason: ReasonAPIKeyNotAllowed, Message: MsgAPIKeyNotAllowed}
	ErrAPIKeyScope      = &Error{Code: EFORBIDDEN, Reason: ReasonAPIKeyScope, Message: MsgAPIKeyScope}
	ErrAPIKeyNotFound   = &Error{Code: ENOTFOUND, Reason: ReasonAPIKeyNotFound, Message: MsgAPIKeyNotFound}
	// ErrInvalidAPIKey: malformed, unknown, revoked, expired, or its user
	// logged out everywhere; the reason is not told.
	ErrInvalidAPIKey = &Error{Code: EUNAUTHORIZED, Reason: ReasonAPIKeyInvalid, Message: MsgAPIKeyInvalid}
	// ErrSpendLimit: the charge would pass the key's spend limit.
	ErrSpendLimit = &Error{Code: EINVALID, Reason: VerifySpendLimit, Message: "The API key's spend limit is reached"}
	// ErrVerifierRequired: POST /keys/verify without a service credential.
	ErrVerifierRequired = &Error{Code: EUNAUTHORIZED, Reason: "verifier_required", Message: MsgVerifierRequired}
)
