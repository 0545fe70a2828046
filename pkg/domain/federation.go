package domain

import (
	"context"
	"slices"
	"time"
)

// Sign-in through upstream identity providers (pkg/federation): the
// identities linked to accounts, the flows in progress and the one-time
// codes apps exchange. docs/federation.md has the rules.

// Upstream provider kinds (identity_providers[].kind).
const (
	ProviderOIDC   = "oidc"   // any OpenID Connect provider, by its issuer's discovery document
	ProviderGitHub = "github" // GitHub's OAuth2 apps: no ID token; the user from its REST API
)

// AMRFederated is the amr value of a sign-in through an upstream provider
// (RFC 8176 "fed"). The provider's own amr values follow it when the
// provider is trusted for MFA (identity_providers[].trust_mfa).
const AMRFederated = "fed"

// AMRMFA is RFC 8176's "multiple factors": a trusted upstream provider's
// sign-in that used a second factor carries it (aal2).
const AMRMFA = "mfa"

// UpstreamMFA reports whether an upstream provider's amr (RFC 8176)
// reports a second factor: "mfa", a one-time code ("otp", "sms"), or a key
// ("hwk", "swk") that verified the user ("user", "pin" or a biometric).
// With trust_mfa it stands in for the account's own.
func UpstreamMFA(amr []string) bool {
	has := func(vs ...string) bool {
		return slices.ContainsFunc(vs, func(v string) bool { return slices.Contains(amr, v) })
	}
	return has(AMRMFA, AMROTP, "sms") || (has(AMRHardwareKey, AMRSoftwareKey) && has(AMRUser, "pin", "fpt", "face", "iris", "retina"))
}

// FederationFlowTTL is how long a person may take at the provider between
// the start and the callback; FederationCodeTTL how long an app has to
// exchange the callback's one-time code.
const (
	FederationFlowTTL = 10 * time.Minute
	FederationCodeTTL = 2 * time.Minute
)

// Audit events of linked identities.
const (
	AuditIdentityLinked   = "identity.linked"
	AuditIdentityUnlinked = "identity.unlinked"
)

// Identity is an upstream account linked to a user: the provider's name as
// configured and its stable subject; the email it last asserted (refreshed
// only when the provider says it is verified).
type Identity struct {
	ID            int64     `json:"id" db:"id"`
	UserID        int64     `json:"-" db:"user_id"`
	Provider      string    `json:"provider" db:"provider"`
	Subject       string    `json:"subject" db:"subject"`
	Email         string    `json:"email" db:"email"`
	EmailVerified bool      `json:"email_verified" db:"email_verified"`
	CreatedAt     time.Time `json:"created_at" db:"created_at"`
	LastUsedAt    time.Time `json:"last_used_at" db:"last_used_at"`
}

// ExternalIdentity is what an upstream provider asserted in a verified
// sign-in: its subject and email (canonical), whether it verified the
// email, a username and name to suggest for a new account, and the
// methods it reports (the ID token's amr).
type ExternalIdentity struct {
	Provider      string   `json:"provider"`
	Subject       string   `json:"subject"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Username      string   `json:"username,omitempty"`
	AMR           []string `json:"amr,omitempty"`
}

// ProviderPolicy is what the account rules need to know of a provider:
// whether it may create accounts, which email domains it may sign in, and
// whether its second factors count as this account's.
type ProviderPolicy struct {
	AutoCreate          bool
	AllowedEmailDomains []string
	TrustMFA            bool
}

// FederationFlow is a sign-in or link in progress at a provider: the
// SHA-256 of its state; the nonce and PKCE verifier sent upstream; where the
// browser goes afterwards; the app's PKCE challenge (a sign-in) or the
// account being linked (LinkUserID). Single use.
type FederationFlow struct {
	StateHash     string    `db:"state_hash"`
	Provider      string    `db:"provider"`
	Nonce         string    `db:"nonce"`
	Verifier      string    `db:"pkce_verifier"`
	RedirectTo    string    `db:"redirect_to"`
	CodeChallenge string    `db:"code_challenge"`
	LinkUserID    int64     `db:"link_user_id"`
	ExpiresAt     time.Time `db:"expires_at"`
	CreatedAt     time.Time `db:"created_at"`
}

// FederationCode is a verified upstream sign-in waiting for the app that
// started it: the SHA-256 of its one-time code, the app's PKCE challenge
// and the identity. Single use.
type FederationCode struct {
	CodeHash      string
	CodeChallenge string
	// LinkUserID is the account a link's code is for: only that user may
	// redeem it (0: a sign-in's code).
	LinkUserID int64
	Identity   ExternalIdentity
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// FederationStore keeps linked identities, flows and codes.
type FederationStore interface {
	// PutFederationFlow stores a flow.
	PutFederationFlow(ctx context.Context, f *FederationFlow) error
	// TakeFederationFlow deletes and returns the unexpired flow with that
	// state hash, in one statement: of concurrent callbacks one gets it.
	// ErrFederationState when gone or expired.
	TakeFederationFlow(ctx context.Context, stateHash string) (*FederationFlow, error)
	// PutFederationCode stores a code.
	PutFederationCode(ctx context.Context, c *FederationCode) error
	// TakeFederationCode deletes and returns the unexpired code with that
	// hash, in one statement; ErrFederationCode when gone or expired.
	TakeFederationCode(ctx context.Context, codeHash string) (*FederationCode, error)
	// IdentityBySubject returns the identity; ErrIdentityNotFound.
	IdentityBySubject(ctx context.Context, provider, subject string) (*Identity, error)
	// Identities lists the user's identities, oldest first.
	Identities(ctx context.Context, userID int64) ([]*Identity, error)
	// LinkIdentity stores a new identity of i.UserID (sets ID and times);
	// ErrIdentityTaken when the provider's subject is linked already.
	LinkIdentity(ctx context.Context, i *Identity) error
	// UseIdentity records a sign-in with the provider's subject (last used
	// now, and the email when verified) and returns its user, in one
	// statement; ErrIdentityNotFound when no identity has it.
	UseIdentity(ctx context.Context, x ExternalIdentity) (userID int64, err error)
	// UnlinkIdentity deletes the user's identity unless it is the user's
	// last way to sign in (no password, no passkey, no other identity),
	// decided in the deleting statement; ErrIdentityNotFound,
	// ErrLastSignInMethod.
	UnlinkIdentity(ctx context.Context, userID, id int64) (*Identity, error)
	// CreateFederatedUser creates u (no password) as RegisterUser does and
	// links i to it, in one transaction; ECONFLICT for a taken username or
	// email, ErrIdentityTaken for a linked subject.
	CreateFederatedUser(ctx context.Context, u *User, i *Identity, verify *EmailVerification, mail ...*OutboundEmail) error
}

// ProviderInfo is what GET /auth/providers shows of a provider.
type ProviderInfo struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Kind  string `json:"kind"`
}

// FederationService is sign-in through upstream providers, for the JSON
// API and the hosted pages (pkg/federation).
type FederationService interface {
	// Providers lists the configured providers, in configuration order.
	Providers() []ProviderInfo
	// Start begins a sign-in at the provider and returns the URL to send
	// the browser to. redirectTo must be on the allow-list (or a path of
	// authsvc's own); codeChallenge is the app's S256 PKCE challenge.
	Start(ctx context.Context, provider, redirectTo, codeChallenge string) (string, error)
	// StartLink begins linking the provider to the signed-in user, after
	// a recent sign-in or their password; codeChallenge is the app's S256
	// PKCE challenge, as for Start.
	StartLink(ctx context.Context, p *Principal, provider, password, redirectTo, codeChallenge string) (string, error)
	// Callback finishes the flow whose state the provider's redirect
	// carries and returns where the browser goes next (redirect_to with
	// code or error). An unknown, used or expired state is an
	// error with no redirect.
	Callback(ctx context.Context, provider string, query map[string][]string) (string, error)
	// Exchange trades a callback's one-time code and the app's PKCE
	// verifier for the sign-in's token response (or its mfa_token).
	Exchange(ctx context.Context, code, verifier string) (*AccessToken, error)
	// ExchangeLink redeems a link's one-time code and verifier: the
	// identity is linked to p, who must be the user who started the link
	// (ErrFederationCode otherwise). It returns the provider's name.
	ExchangeLink(ctx context.Context, p *Principal, code, verifier string) (string, error)
	// Identities lists the signed-in user's linked identities.
	Identities(ctx context.Context, p *Principal) ([]*Identity, error)
	// Unlink removes one; ErrLastSignInMethod when it is the last way in.
	Unlink(ctx context.Context, p *Principal, id int64) error
}
