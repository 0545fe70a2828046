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
	// ConsentNeeded reports whether userID must still consent to the
	// request's client and scopes: false for first-party clients and for a
	// remembered consent covering the scopes, true when the request's prompt
	// includes "consent".
	ConsentNeeded(ctx context.Context, id string, userID int64) (bool, error)
	// GrantConsent remembers userID's consent to the request's client and
	// scopes.
	GrantConsent(ctx context.Context, id string, userID int64) error
	// Complete marks the request signed in by s and returns the URL to send
	// the browser to next (the provider's callback, which issues the code).
	Complete(ctx context.Context, id string, s BrowserSignIn) (redirect string, err error)
	// Fail ends the request with an OAuth error code (login_required,
	// consent_required, access_denied, …) and returns the URL, at the
	// request's registered redirect_uri and with its state, to send the
	// browser to.
	Fail(ctx context.Context, id, code, description string) (redirect string, err error)
}

// ServiceTokenVerifier checks a bearer token a service presents: an OpenID
// Connect client-credentials access token carrying scope. It returns the
// client's id; EUNAUTHORIZED when the token is not valid, EFORBIDDEN when it
// lacks the scope.
type ServiceTokenVerifier interface {
	VerifyServiceToken(ctx context.Context, bearer, scope string) (clientID string, err error)
}
