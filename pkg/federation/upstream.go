package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/domain"
)

// discoveryRetry is how long a failed discovery is remembered before the
// next sign-in tries again (a provider that is down is not asked on every
// click).
const discoveryRetry = 5 * time.Second

// oidcUpstream is an OpenID Connect provider, discovered at first use.
type oidcUpstream struct {
	cfg      Provider
	redirect string
	client   *http.Client

	mu       sync.Mutex
	p        *oidc.Provider
	failedAt time.Time
	lastErr  error
}

func newOIDC(cfg Provider, redirect string, client *http.Client) *oidcUpstream {
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !strings.Contains(" "+strings.Join(cfg.Scopes, " ")+" ", " openid ") {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	return &oidcUpstream{cfg: cfg, redirect: redirect, client: client}
}

// provider returns the discovered provider, fetching its discovery document
// once; its keys (JWKS) are fetched by go-oidc when a token needs them and
// cached. The context of the fetches is the service's, not a request's,
// so that a cancelled request does not poison the cached key set.
func (o *oidcUpstream) provider() (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p != nil {
		return o.p, nil
	}
	if time.Since(o.failedAt) < discoveryRetry {
		return nil, o.lastErr
	}
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), o.client), o.cfg.Issuer)
	if err != nil {
		o.failedAt, o.lastErr = time.Now(), fmt.Errorf("discovery of %s: %w", o.cfg.Issuer, err)
		return nil, o.lastErr
	}
	o.p = p
	return p, nil
}

func (o *oidcUpstream) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.redirect, Scopes: o.cfg.Scopes}
}

func (o *oidcUpstream) authURL(_ context.Context, state, nonce, verifier string) (string, error) {
	p, err := o.provider()
	if err != nil {
		return "", err
	}
	return o.oauth2(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// oidcClaims are the ID token claims read; email_verified may arrive as a
// string ("true") from some providers.
type oidcClaims struct {
	Email         string `json:"email"`
	EmailVerified any    `json:"email_verified"`
	// XMSEdov is Microsoft Entra's optional claim "the email's domain is
	// verified by the tenant" (Entra sends no email_verified).
	XMSEdov           any      `json:"xms_edov"`
	PreferredUsername string   `json:"preferred_username"`
	AMR               []string `json:"amr"`
}

// identity exchanges the code (with the PKCE verifier) and verifies the ID
// token with go-oidc: signature by the provider's keys, issuer, audience
// (our client id), expiry; then the nonce of this flow.
func (o *oidcUpstream) identity(ctx context.Context, code, verifier, nonce string) (*domain.ExternalIdentity, error) {
	p, err := o.provider()
	if err != nil {
		return nil, domain.ErrProviderUnavailable.With(err)
	}
	ctx = oidc.ClientContext(ctx, o.client)
	conf := o.oauth2(p)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, domain.ErrProviderFailed.With(fmt.Errorf("token exchange: %w", err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, domain.ErrProviderFailed.With(errors.New("the token response has no id_token"))
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, domain.ErrProviderFailed.With(fmt.Errorf("id token: %w", err))
	}
	if idt.Nonce != nonce {
		return nil, domain.ErrProviderFailed.With(errors.New("id token: the nonce is not this sign-in's"))
	}
	var c oidcClaims
	if err := idt.Claims(&c); err != nil {
		return nil, domain.ErrProviderFailed.With(fmt.Errorf("id token claims: %w", err))
	}
	if c.Email == "" { // some providers put it in userinfo only
		if ui, err := p.UserInfo(ctx, conf.TokenSource(ctx, tok)); err == nil && ui.Subject == idt.Subject {
			c.Email = ui.Email
			c.EmailVerified = ui.EmailVerified
		}
	}
	if idt.Subject == "" {
		return nil, domain.ErrProviderFailed.With(errors.New("id token: no sub"))
	}
	return checked(&domain.ExternalIdentity{Subject: idt.Subject, Email: c.Email,
		EmailVerified: truthy(c.EmailVerified) || truthy(c.XMSEdov), Username: c.PreferredUsername, AMR: c.AMR}), nil
}

func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

// gitHubUpstream is GitHub's OAuth2 apps: no ID token; the user and their
// verified primary email come from the REST API (GET /user, GET
// /user/emails).
type gitHubUpstream struct {
	conf   *oauth2.Config
	api    string
	client *http.Client
}

func newGitHub(cfg Provider, redirect string, client *http.Client) *gitHubUpstream {
	web := strings.TrimRight(cmp(cfg.GitHubURL, "https://github.com"), "/")
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"read:user", "user:email"}
	}
	return &gitHubUpstream{
		conf: &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: redirect, Scopes: scopes,
			Endpoint: oauth2.Endpoint{AuthURL: web + "/login/oauth/authorize", TokenURL: web + "/login/oauth/access_token",
				AuthStyle: oauth2.AuthStyleInParams}},
		api: strings.TrimRight(cmp(cfg.GitHubAPIURL, "https://api.github.com"), "/"), client: client,
	}
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (g *gitHubUpstream) authURL(_ context.Context, state, _, verifier string) (string, error) {
	return g.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil
}

type gitHubUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
}

type gitHubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

func (g *gitHubUpstream) identity(ctx context.Context, code, verifier, _ string) (*domain.ExternalIdentity, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, g.client)
	tok, err := g.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, domain.ErrProviderFailed.With(fmt.Errorf("token exchange: %w", err))
	}
	client := g.conf.Client(ctx, tok)
	var u gitHubUser
	if err := g.get(ctx, client, "/user", &u); err != nil {
		return nil, err
	}
	if u.ID == 0 {
		return nil, domain.ErrProviderFailed.With(errors.New("GitHub's /user has no id"))
	}
	var emails []gitHubEmail
	if err := g.get(ctx, client, "/user/emails", &emails); err != nil {
		return nil, err
	}
	x := &domain.ExternalIdentity{Subject: strconv.FormatInt(u.ID, 10), Username: u.Login}
	for _, e := range emails {
		if e.Primary {
			x.Email, x.EmailVerified = e.Email, e.Verified
		}
	}
	return checked(x), nil
}

// checked canonicalises the identity's email, and drops one that is not a
// valid address (as if the provider shared none).
func checked(x *domain.ExternalIdentity) *domain.ExternalIdentity {
	x.Email = domain.CanonicalEmail(x.Email)
	if x.Email != "" && !domain.ValidEmail(x.Email) {
		x.Email, x.EmailVerified = "", false
	}
	return x
}

// get reads one JSON document of GitHub's REST API.
func (g *gitHubUpstream) get(ctx context.Context, client *http.Client, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := client.Do(req)
	if err != nil {
		return domain.ErrProviderUnavailable.With(fmt.Errorf("GitHub %s: %w", path, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return domain.ErrProviderFailed.With(fmt.Errorf("GitHub %s: %s %v", path, resp.Status, err))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return domain.ErrProviderFailed.With(fmt.Errorf("GitHub %s: %w", path, err))
	}
	return nil
}
