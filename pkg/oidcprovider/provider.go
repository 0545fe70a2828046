// Package oidcprovider is authsvc's OpenID Connect provider: the protocol
// endpoints (discovery, authorize, token, userinfo, revoke, introspect,
// end_session) come from zitadel/oidc's certified op package; this package
// keeps their state in authsvc's store (so a flow begun on one replica
// finishes on another), signs with authsvc's keys, and hands the browser to
// the hosted sign-in pages (pkg/pages) through domain.OIDCLogin.
package oidcprovider

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/token"
)

// The provider's endpoints, relative to the issuer. The JWKS is the one the
// JSON API already publishes.
const (
	PathAuthorize  = "/oauth2/authorize"
	PathCallback   = "/oauth2/authorize/callback"
	PathToken      = "/oauth2/token" //nolint:gosec // G101: a URL path, not a credential
	PathUserinfo   = "/oauth2/userinfo"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathEndSession = "/oauth2/end_session"
	PathDiscovery  = "/.well-known/openid-configuration"
	PathJWKS       = "/.well-known/jwks.json"
)

// Paths are the URL paths the provider serves, for mounting it next to
// the JSON API and the pages.
var Paths = []string{PathAuthorize, PathCallback, PathToken, PathUserinfo, PathRevoke, PathIntrospect, PathEndSession, PathDiscovery}

// Keys are the signing keys: the token issuer's keyring.
type Keys interface {
	SigningKeyFor(alg string) (kid string, key crypto.Signer, ok bool)
	PublicKeys() []token.PublicKey
}

// Clients reads client registrations.
type Clients interface {
	OIDCClient(ctx context.Context, id string) (*domain.OIDCClient, error)
}

// Browser ends the browser's sign-in session of r when it is userID's
// (RP-initiated logout); the hosted pages implement it.
type Browser interface {
	EndSession(r *http.Request, userID int64) error
}

// Config are the provider's settings (oidc.*).
type Config struct {
	Issuer               string
	CodeLifetime         time.Duration
	RequestLifetime      time.Duration
	AccessTokenLifetime  time.Duration
	IDTokenLifetime      time.Duration
	RefreshTokenLifetime time.Duration
	// Secret derives the key that seals the provider's own opaque values
	// (zitadel's codes): the same on every replica.
	Secret []byte
}

// Deps are the provider's collaborators.
type Deps struct {
	Store   domain.OIDCStore
	Clients Clients
	Keys    Keys
	Browser Browser // nil: end_session ends no browser session
	Logger  zerolog.Logger
	Clock   func() time.Time
}

// Provider is the OpenID Connect provider. It implements domain.OIDCLogin
// for the pages and domain.ServiceTokenVerifier for the JSON API.
type Provider struct {
	cfg     Config
	deps    Deps
	op      *op.Provider
	storage *storage
}

var (
	_ domain.OIDCLogin            = (*Provider)(nil)
	_ domain.ServiceTokenVerifier = (*Provider)(nil)
)

// New builds the provider.
func New(cfg Config, deps Deps) (*Provider, error) {
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	cfg.Issuer = issuer
	p := &Provider{cfg: cfg, deps: deps}
	p.storage = &storage{p: p}
	key := sha256.Sum256(append([]byte("authsvc oidc provider v1\x00"), cfg.Secret...))
	conf := &op.Config{
		CryptoKey:                key,
		DefaultLogoutRedirectURI: "/signin",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "azp",
			"email", "email_verified", "preferred_username"},
	}
	opts := []op.Option{
		op.WithCustomAuthEndpoint(op.NewEndpoint(strings.TrimPrefix(PathAuthorize, "/"))),
		op.WithCustomTokenEndpoint(op.NewEndpoint(strings.TrimPrefix(PathToken, "/"))),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(strings.TrimPrefix(PathUserinfo, "/"))),
		op.WithCustomRevocationEndpoint(op.NewEndpoint(strings.TrimPrefix(PathRevoke, "/"))),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(strings.TrimPrefix(PathIntrospect, "/"))),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint(strings.TrimPrefix(PathEndSession, "/"))),
		op.WithCustomKeysEndpoint(op.NewEndpoint(strings.TrimPrefix(PathJWKS, "/"))),
		op.WithHttpInterceptors(withMemo),
	}
	if u, err := url.Parse(issuer); err == nil && u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure()) // config allows http on loopback hosts only
	}
	o, err := op.NewProvider(conf, p.storage, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	p.op = o
	return p, nil
}

// SetBrowser gives the provider the pages' browser sessions, built after
// it (the pages need the provider too).
func (p *Provider) SetBrowser(b Browser) { p.deps.Browser = b }

// Handler serves the protocol endpoints (Paths).
func (p *Provider) Handler() http.Handler { return p.op }

// Ready reports whether the provider can sign ID tokens: an RS256 key is
// held (active or next).
func (p *Provider) Ready() error {
	if _, _, ok := p.deps.Keys.SigningKeyFor(algRS256); !ok {
		return errNoRS256
	}
	return nil
}

var errNoRS256 = errors.New("OpenID Connect needs an RS256 signing key: run `authsvc keys generate --alg RS256` " +
	"(with auth.key_encryption_key set); it signs ID tokens as soon as every replica has loaded it")

// RunJanitor prunes expired requests and spent tokens every interval until
// ctx ends.
func (p *Provider) RunJanitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for { // at start too, as the account janitor: replicas restarted more often than interval still prune
		n, err := p.deps.Store.PruneOIDC(ctx, p.now())
		if err != nil && ctx.Err() == nil {
			p.deps.Logger.Warn().Err(err).Msg("oidc: prune failed; retried at the next interval")
		} else if n > 0 {
			p.deps.Logger.Debug().Int64("rows", n).Msg("oidc: pruned expired requests and tokens")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AuthRequest implements domain.OIDCLogin.
func (p *Provider) AuthRequest(ctx context.Context, id string) (*domain.OIDCAuthRequest, error) {
	r, err := p.deps.Store.OIDCRequest(ctx, id, p.now())
	if err != nil {
		return nil, err
	}
	if r.Done() {
		return nil, domain.ErrOIDCRequestGone
	}
	c, err := p.deps.Clients.OIDCClient(ctx, r.ClientID)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return nil, domain.ErrOIDCRequestGone
		}
		return nil, err
	}
	out := &domain.OIDCAuthRequest{ID: r.ID, ClientID: c.ID, ClientName: c.Name, FirstParty: c.FirstParty,
		Scopes: r.Scopes, Prompt: r.Prompt, LoginHint: r.LoginHint, CreatedAt: r.CreatedAt}
	if r.MaxAge != nil {
		d := time.Duration(*r.MaxAge) * time.Second
		out.MaxAge = &d
	}
	return out, nil
}

// ConsentNeeded implements domain.OIDCLogin.
func (p *Provider) ConsentNeeded(ctx context.Context, ar *domain.OIDCAuthRequest, userID int64) (bool, error) {
	if ar.FirstParty {
		return false, nil
	}
	if slices.Contains(ar.Prompt, oidc.PromptConsent) {
		return true, nil
	}
	had, err := p.deps.Store.OIDCConsentScopes(ctx, userID, ar.ClientID)
	if err != nil {
		return false, err
	}
	for _, s := range ar.Scopes {
		if !slices.Contains(had, s) {
			return true, nil
		}
	}
	return false, nil
}

// GrantConsent implements domain.OIDCLogin.
func (p *Provider) GrantConsent(ctx context.Context, ar *domain.OIDCAuthRequest, userID int64) error {
	ctx = domain.WithAudit(ctx, &domain.AuditEvent{Event: domain.AuditOIDCConsentGranted, ActorID: userID, TargetID: userID,
		Details: map[string]any{"client_id": ar.ClientID, "scopes": ar.Scopes}})
	return p.deps.Store.GrantOIDCConsent(ctx, userID, ar.ClientID, ar.Scopes, p.now())
}

// Consents implements domain.OIDCLogin.
func (p *Provider) Consents(ctx context.Context, userID int64) ([]domain.OIDCConsent, error) {
	return p.deps.Store.OIDCConsents(ctx, userID)
}

// RevokeConsent implements domain.OIDCLogin, audited.
func (p *Provider) RevokeConsent(ctx context.Context, userID int64, clientID string) error {
	ctx = domain.WithAudit(ctx, &domain.AuditEvent{Event: domain.AuditOIDCConsentRevoked, ActorID: userID, TargetID: userID,
		Details: map[string]any{"client_id": clientID}})
	return p.deps.Store.RevokeOIDCConsent(ctx, userID, clientID, p.now())
}

// Complete implements domain.OIDCLogin: the browser goes on to the
// provider's callback, which issues the code.
func (p *Provider) Complete(ctx context.Context, id string, s domain.BrowserSignIn) (string, error) {
	if err := p.deps.Store.CompleteOIDCRequest(ctx, id, s, p.now()); err != nil {
		return "", err
	}
	return p.cfg.Issuer + PathCallback + "?id=" + url.QueryEscape(id), nil
}

// Fail implements domain.OIDCLogin: the request ends (it can no longer
// give a code) and the error goes to its redirect_uri (registered: the
// provider checked it before the request was stored), with its state.
func (p *Provider) Fail(ctx context.Context, id, code, description string) (string, error) {
	r, err := p.deps.Store.OIDCRequest(ctx, id, p.now())
	if err != nil {
		return "", err
	}
	if err := p.deps.Store.EndOIDCRequest(ctx, id, p.now()); err != nil {
		return "", err
	}
	v := url.Values{"error": {code}, "error_description": {description}}
	if r.State != "" {
		v.Set("state", r.State)
	}
	sep := "?"
	if strings.Contains(r.RedirectURI, "?") {
		sep = "&"
	}
	if r.ResponseMode == string(oidc.ResponseModeFragment) {
		sep = "#"
	}
	return r.RedirectURI + sep + v.Encode(), nil
}

// VerifyServiceToken implements domain.ServiceTokenVerifier: a
// client-credentials access token of this issuer, still valid (not
// revoked, its client not deleted), carrying scope.
func (p *Provider) VerifyServiceToken(ctx context.Context, bearer, scope string) (string, error) {
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, bearer, p.op.AccessTokenVerifier(op.ContextWithIssuer(ctx, p.cfg.Issuer)))
	if err != nil {
		return "", domain.ErrInvalidToken
	}
	t, err := p.deps.Store.OIDCTokenByID(ctx, claims.JWTID, p.now())
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return "", domain.ErrInvalidToken
	} else if err != nil {
		return "", err
	}
	if t.UserID != 0 || t.ClientID != claims.Subject {
		return "", domain.ErrInvalidToken
	}
	if !slices.Contains(t.Scopes, scope) {
		return "", domain.ErrServiceTokenScope
	}
	return t.ClientID, nil
}

func (p *Provider) now() time.Time { return p.deps.Clock().UTC().Truncate(time.Microsecond) }

// memo is one HTTP request's cache: the clients it read (a token request
// reads its client once, for both its registration and its secret) and
// the request itself (for end_session's browser cookie).
type memo struct {
	clients map[string]*domain.OIDCClient
	r       *http.Request
}

type memoKey struct{}

func withMemo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := &memo{clients: map[string]*domain.OIDCClient{}}
		r = r.WithContext(context.WithValue(r.Context(), memoKey{}, m))
		m.r = r
		next.ServeHTTP(w, r)
	})
}

func memoOf(ctx context.Context) *memo {
	m, _ := ctx.Value(memoKey{}).(*memo)
	return m
}
