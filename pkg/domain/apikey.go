package domain

import (
	"context"
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
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"`
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
)
