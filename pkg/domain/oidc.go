package domain

import (
	"context"
	"time"
)

// OIDCAuthRequest is an OpenID Connect authorization request as the hosted
// sign-in pages see it while it waits for its user. The provider has already
// checked the client, its redirect_uri and PKCE before the browser reaches a
// page.
type OIDCAuthRequest struct {
	ID         string
	ClientID   string
	ClientName string
	FirstParty bool           // consent is never asked
	Scopes     []string       // as requested, e.g. openid email profile
	Prompt     []string       // "none", "login", "consent", "select_account", as the client sent them
	MaxAge     *time.Duration // nil when the client sent no max_age
	LoginHint  string
	CreatedAt  time.Time
}

// BrowserSignIn is a sign-in the hosted pages performed (or found in the
// browser's session cookie), handed to the provider to finish a request.
type BrowserSignIn struct {
	UserID    int64
	SessionID string    // the sessions row the browser cookie names; the ID token's sid
	AuthTime  time.Time // when the user last presented a credential
	AMR       []string  // RFC 8176 methods as performed: "pwd", "otp", "hwk", "fed", …
}

// OIDCLogin is what the OpenID Connect provider offers the hosted sign-in
// pages. Its errors are *Error values: ENOTFOUND for a request that is
// unknown, expired or already finished.
type OIDCLogin interface {
	// AuthRequest returns the pending request id.
	AuthRequest(ctx context.Context, id string) (*OIDCAuthRequest, error)
	// ConsentNeeded reports whether userID must still consent to request
	// ar's client and scopes (ar as AuthRequest returned it): false for
	// first-party clients and for a remembered consent covering the scopes,
	// true when the request's prompt includes "consent".
	ConsentNeeded(ctx context.Context, ar *OIDCAuthRequest, userID int64) (bool, error)
	// GrantConsent remembers userID's consent to request ar's client and
	// scopes.
	GrantConsent(ctx context.Context, ar *OIDCAuthRequest, userID int64) error
	// Complete marks the request signed in by s and returns the URL to send
	// the browser to next (the provider's callback, which issues the code).
	Complete(ctx context.Context, id string, s BrowserSignIn) (redirect string, err error)
	// Fail ends the request with an OAuth error code (login_required,
	// consent_required, access_denied, …) and returns the URL, at the
	// request's registered redirect_uri and with its state, to send the
	// browser to.
	Fail(ctx context.Context, id, code, description string) (redirect string, err error)
	// Consents lists the apps userID has consented to.
	Consents(ctx context.Context, userID int64) ([]OIDCConsent, error)
	// RevokeConsent forgets userID's consent to clientID and revokes the
	// tokens the app holds for userID; ErrOIDCNoConsent when there is none.
	RevokeConsent(ctx context.Context, userID int64, clientID string) error
}

// ServiceTokenVerifier checks a bearer token a service presents: an OpenID
// Connect client-credentials access token carrying scope. It returns the
// client's id; EUNAUTHORIZED when the token is not valid, EFORBIDDEN when it
// lacks the scope.
type ServiceTokenVerifier interface {
	VerifyServiceToken(ctx context.Context, bearer, scope string) (clientID string, err error)
}

// OIDCRequest is an authorization request as the provider stores it: what
// the client asked for, then who signed in, then the code it was answered
// with. It lives in the database so that any replica can finish it.
type OIDCRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string
	ResponseType        string
	ResponseMode        string
	Prompt              []string
	MaxAge              *int64 // seconds; nil when the client sent none
	LoginHint           string
	CodeChallenge       string
	CodeChallengeMethod string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	// Set by the sign-in (zero until then).
	UserID    int64
	SessionID string
	AuthTime  time.Time
	AMR       []string
	// User is the signed-in user as read with the request when its code is
	// redeemed (nil otherwise).
	User *User
}

// Done reports whether a user has signed the request in.
func (r *OIDCRequest) Done() bool { return r.UserID != 0 }

// OIDCToken is an access token issued to a client (ID is its jti) and the
// refresh token issued with it, if any. A refresh rotates: a new token of
// the same family replaces the used one.
type OIDCToken struct {
	ID               string
	FamilyID         string
	ClientID         string
	UserID           int64 // 0 for a client-credentials token
	RequestID        string
	SessionID        string
	Scopes           []string
	AMR              []string
	AuthTime         time.Time
	TokenVersion     int64
	ExpiresAt        time.Time
	RefreshHash      string // SHA-256 of the refresh token; empty when none
	RefreshExpiresAt time.Time
	CreatedAt        time.Time
	// User is the token's user as read with it (nil for a client token).
	User *User
}

// OIDCConsent is a user's remembered consent to a client's scopes.
type OIDCConsent struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
}

// OIDCStore keeps the provider's requests, codes, tokens and consents.
// ENOTFOUND (ErrOIDCGrantInvalid for codes and refresh tokens) for what is
// unknown, expired, used or revoked; EUNAVAILABLE when the database cannot
// be reached.
type OIDCStore interface {
	CreateOIDCRequest(ctx context.Context, r *OIDCRequest) error
	// OIDCRequest returns a request still waiting for its code.
	OIDCRequest(ctx context.Context, id string, now time.Time) (*OIDCRequest, error)
	// EndOIDCRequest ends a request that failed (denied, login required):
	// it can no longer be signed in or give a code.
	EndOIDCRequest(ctx context.Context, id string, now time.Time) error
	// CompleteOIDCRequest records the sign-in s on a request not signed in yet.
	CompleteOIDCRequest(ctx context.Context, id string, s BrowserSignIn, now time.Time) error
	// SetOIDCCode stores the hash of the code issued for a signed-in request.
	SetOIDCCode(ctx context.Context, id, codeHash string, expires time.Time) error
	// RedeemOIDCCode takes the code once and returns its request with its
	// user. A code already redeemed is ErrOIDCCodeReplayed, and every token
	// issued from it is revoked, then and whenever it is issued later.
	RedeemOIDCCode(ctx context.Context, codeHash string, now time.Time) (*OIDCRequest, error)
	// CreateOIDCToken stores an issued token (revoked at once when its
	// request's code was replayed meanwhile).
	CreateOIDCToken(ctx context.Context, t *OIDCToken) error
	// OIDCTokenByRefresh returns the token of a refresh token that is
	// unused, unrevoked, unexpired, and whose user's token version still
	// matches. A used one presented again revokes its family.
	OIDCTokenByRefresh(ctx context.Context, refreshHash string, now time.Time) (*OIDCToken, error)
	// RotateOIDCRefresh marks the refresh token used and stores next in its
	// family, atomically; a concurrent use of the same token loses with
	// ErrOIDCGrantInvalid and revokes the family.
	RotateOIDCRefresh(ctx context.Context, refreshHash string, next *OIDCToken, now time.Time) error
	// OIDCTokenByID returns an access token that is still valid, with its
	// user: one round trip, for userinfo and introspection.
	OIDCTokenByID(ctx context.Context, id string, now time.Time) (*OIDCToken, error)
	// RevokeOIDCToken revokes the token with access-token id id, or with
	// refresh hash refreshHash, when it was issued to clientID (its whole
	// family for a refresh token). Unknown tokens are not an error (RFC 7009).
	RevokeOIDCToken(ctx context.Context, id, refreshHash, clientID string, now time.Time) error
	// OIDCConsentScopes returns the scopes userID consented to for clientID.
	OIDCConsentScopes(ctx context.Context, userID int64, clientID string) ([]string, error)
	// GrantOIDCConsent remembers userID's consent to clientID for scopes
	// (added to any earlier consent).
	GrantOIDCConsent(ctx context.Context, userID int64, clientID string, scopes []string, now time.Time) error
	// OIDCConsents lists userID's consents.
	OIDCConsents(ctx context.Context, userID int64) ([]OIDCConsent, error)
	// RevokeOIDCConsent forgets userID's consent to clientID and revokes the
	// tokens clientID holds for userID; ENOTFOUND when there was none.
	RevokeOIDCConsent(ctx context.Context, userID int64, clientID string, now time.Time) error
	// PruneOIDC deletes expired requests and tokens past use.
	PruneOIDC(ctx context.Context, now time.Time) (int64, error)
}

// Errors of the provider's store.
var (
	ErrOIDCGrantInvalid = &Error{Code: ENOTFOUND, Reason: "invalid_grant", Message: "the code or refresh token is invalid, expired, used or revoked"}
	ErrOIDCCodeReplayed = &Error{Code: ENOTFOUND, Reason: "code_replayed", Message: "the code was already used; its tokens are revoked"}
	ErrOIDCRequestGone  = &Error{Code: ENOTFOUND, Reason: "oidc_request_not_found", Message: "the sign-in request is unknown, expired or finished"}
	ErrOIDCNoConsent    = &Error{Code: ENOTFOUND, Reason: "oidc_consent_not_found", Message: "no consent to revoke for this client"}
)

// Audit events of the provider.
const (
	AuditOIDCConsentGranted = "oidc.consent_granted"
	AuditOIDCConsentRevoked = "oidc.consent_revoked"
	AuditOIDCRefreshReused  = "oidc.refresh_reused"
	AuditOIDCCodeReplayed   = "oidc.code_replayed"
)

// ErrServiceTokenScope refuses a valid service token that lacks the scope
// of the call.
var ErrServiceTokenScope = &Error{Code: EFORBIDDEN, Reason: "insufficient_scope", Message: "the token lacks the scope this call needs"}

// The acr values of ID tokens: one factor, or a second one after it.
const (
	ACRSingleFactor = "aal1"
	ACRMultiFactor  = AAL2
)
