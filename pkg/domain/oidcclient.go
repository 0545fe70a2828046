package domain

import (
	"context"
	"crypto/subtle"
	"net"
	"net/url"
	"strings"
	"time"
)

// OIDCClient is an application that signs its users in through authsvc by
// OpenID Connect, registered by an admin. A confidential client
// authenticates with its secret (only its SHA-256 is kept); a public client
// (a SPA, a mobile app) cannot keep a secret and must use PKCE.
type OIDCClient struct {
	ID                     string    `json:"client_id"`
	Name                   string    `json:"name"`
	SecretHash             string    `json:"-"`
	Public                 bool      `json:"public"`
	FirstParty             bool      `json:"first_party"` // consent is never asked
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Grants                 []string  `json:"grants"`
	Scopes                 []string  `json:"scopes"` // what the client may ask for
	IDTokenAlg             string    `json:"id_token_signing_alg"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

// SecretMatches reports whether secret is confidential client c's secret,
// compared in constant time through its hash; always false for a public
// client.
func (c *OIDCClient) SecretMatches(secret string) bool {
	return !c.Public && c.SecretHash != "" && subtle.ConstantTimeCompare([]byte(HashToken(secret)), []byte(c.SecretHash)) == 1
}

// The OAuth 2.0 grants a client may use.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// OIDCIDTokenAlgs are the algorithms a client may ask its ID tokens to be
// signed with; RS256 is the default, the one every relying party supports.
var OIDCIDTokenAlgs = []string{"RS256", "ES256", "EdDSA"}

// OIDCGrants lists the grants a client may be registered for.
var OIDCGrants = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}

// DefaultOIDCGrants and DefaultOIDCScopes are a new client's when it names
// none: a web or mobile app signing users in.
var (
	DefaultOIDCGrants = []string{GrantAuthorizationCode, GrantRefreshToken}
	DefaultOIDCScopes = []string{"openid", "profile", "email"}
)

// Limits of a client registration.
const (
	MaxOIDCClientName  = 100
	MaxOIDCRedirectURI = 2000
	MaxOIDCRedirects   = 20
)

// NewOIDCClient is what an admin registers.
type NewOIDCClient struct {
	Name                   string
	Public                 bool
	FirstParty             bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Grants                 []string // none: DefaultOIDCGrants
	Scopes                 []string // none: DefaultOIDCScopes
	IDTokenAlg             string   // none: RS256
}

// CreatedOIDCClient is a new client with its secret (confidential clients),
// shown this once.
type CreatedOIDCClient struct {
	*OIDCClient
	Secret string `json:"client_secret,omitempty"`
}

// ValidRedirectURI reports whether u may be registered as a redirect (or
// post-logout redirect) URI, which authsvc then matches exactly: absolute,
// without a fragment or user info, and either https, http on a loopback
// host (a developer's machine or a native app, RFC 8252 §7.3), or a
// private-use scheme with a dot in it (com.example.app:/callback, RFC 8252
// §7.1).
func ValidRedirectURI(raw string) bool {
	if raw == "" || len(raw) > MaxOIDCRedirectURI || strings.ContainsAny(raw, " \t\r\n#") {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" || u.Scheme == "" {
		return false
	}
	if strings.Contains(u.Host, "*") { // matched exactly: a wildcard would only mislead
		return false
	}
	switch u.Scheme {
	case "https":
		return u.Host != ""
	case "http":
		return IsLoopbackHost(u.Hostname())
	}
	return strings.Contains(u.Scheme, ".") && u.Opaque == "" && u.Host == "" && u.Path != ""
}

// IsLoopbackHost reports whether host is localhost, in 127.0.0.0/8 or ::1:
// where plain http is allowed.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// OIDCClientStore keeps client registrations. Writes record the audit
// events of ctx in the same transaction. EUNAVAILABLE when the database
// cannot be reached.
type OIDCClientStore interface {
	// CreateOIDCClient inserts c (its ID set by the caller).
	CreateOIDCClient(ctx context.Context, c *OIDCClient) error
	// OIDCClients lists every client, oldest first.
	OIDCClients(ctx context.Context) ([]*OIDCClient, error)
	// OIDCClient returns client id; ErrOIDCClientNotFound when there is none.
	OIDCClient(ctx context.Context, id string) (*OIDCClient, error)
	// DeleteOIDCClient deletes client id; ErrOIDCClientNotFound.
	DeleteOIDCClient(ctx context.Context, id string) error
	// SetOIDCClientSecret replaces client id's secret hash at now;
	// ErrOIDCClientNotFound.
	SetOIDCClientSecret(ctx context.Context, id, secretHash string, now time.Time) error
}

// Client messages, audit events and sentinels of OpenID Connect clients.
const (
	MsgOIDCClientName       = "name must be 1 to 100 printable characters"
	MsgOIDCRedirectURI      = "redirect URIs must be absolute, without a fragment: https, http on a loopback host, or a private-use scheme like com.example.app:/callback"
	MsgOIDCRedirectRequired = "a client with the authorization_code grant needs at least one redirect URI"
	MsgOIDCRedirects        = "at most 20 redirect URIs of each kind"
	MsgOIDCGrant            = "grants are authorization_code, refresh_token and client_credentials"
	MsgOIDCPublicCredential = "a public client cannot use client_credentials: it has no secret"
	MsgOIDCScope            = "scopes are 1 to 64 printable ASCII characters without spaces, each once"
	MsgOIDCClientNotFound   = "OpenID Connect client not found"
	MsgOIDCPublicNoSecret   = "a public client has no secret to rotate"
	MsgOIDCIDTokenAlg       = "the ID token algorithm is RS256, ES256 or EdDSA"

	AuditOIDCClientCreated       = "oidc_client.created"
	AuditOIDCClientDeleted       = "oidc_client.deleted"
	AuditOIDCClientSecretRotated = "oidc_client.secret_rotated"
)

// ErrOIDCClientNotFound is the error for a client id no client has.
var ErrOIDCClientNotFound = &Error{Code: ENOTFOUND, Reason: "oidc_client_not_found", Message: MsgOIDCClientNotFound}
