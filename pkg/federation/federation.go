// Package federation signs people in through upstream identity providers:
// any OpenID Connect provider (by its issuer's discovery document, with
// github.com/coreos/go-oidc/v3) and GitHub (OAuth2 and its REST API, with
// golang.org/x/oauth2). It keeps each flow's state, nonce and PKCE verifier
// in the database (single use; a flow may finish on another replica), and
// hands the verified identity to the account rules (pkg/account) through a
// one-time code the app exchanges with its own PKCE verifier, so that no
// token travels in a URL. docs/federation.md describes the flow.
package federation

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Provider is one configured upstream provider (identity_providers[]).
type Provider struct {
	Name  string
	Kind  string // domain.ProviderOIDC or domain.ProviderGitHub
	Label string
	// Issuer is an OpenID Connect provider's issuer URL (its discovery
	// document is Issuer + /.well-known/openid-configuration).
	Issuer              string
	ClientID            string
	ClientSecret        string
	Scopes              []string
	AllowedEmailDomains []string
	AutoCreate          bool
	TrustMFA            bool
	// GitHubURL and GitHubAPIURL are GitHub's web and API base URLs
	// (https://github.com, https://api.github.com; GitHub Enterprise
	// Server has its own).
	GitHubURL    string
	GitHubAPIURL string
}

// Config is the service's configuration.
type Config struct {
	// PublicURL is where browsers reach authsvc (server.public_url): the
	// callback is PublicURL/auth/providers/{name}/callback.
	PublicURL string
	// RedirectAllowList are the redirect_to values apps may pass
	// (auth.redirect_allow_list): exact URLs, or prefixes ending in "/*".
	RedirectAllowList []string
	Providers         []Provider
	// HTTPClient calls the providers; nil uses one with a 10 s timeout.
	HTTPClient *http.Client
}

// Accounts is what the flow needs of the account rules (pkg/account).
type Accounts interface {
	FederatedSignIn(ctx context.Context, pol domain.ProviderPolicy, x domain.ExternalIdentity) (*domain.AccessToken, error)
	LinkIdentity(ctx context.Context, pol domain.ProviderPolicy, userID int64, x domain.ExternalIdentity) error
	RecentOrPassword(ctx context.Context, p *domain.Principal, password string) error
	Identities(ctx context.Context, p *domain.Principal) ([]*domain.Identity, error)
	UnlinkIdentity(ctx context.Context, p *domain.Principal, id int64) error
}

// upstream is one provider's protocol: the URL that starts a sign-in, and
// the identity its callback's code proves.
type upstream interface {
	authURL(ctx context.Context, state, nonce, verifier string) (string, error)
	identity(ctx context.Context, code, verifier, nonce string) (*domain.ExternalIdentity, error)
}

type provider struct {
	Provider
	up upstream
}

// Service runs the flows. It is safe for concurrent use.
type Service struct {
	cfg       Config
	db        domain.FederationStore
	accounts  Accounts
	log       zerolog.Logger
	clock     func() time.Time
	providers []*provider
}

var _ domain.FederationService = (*Service)(nil)

// New returns the Service. Providers are not contacted here: an OpenID
// Connect provider's discovery document and keys are fetched at its first
// use and cached, so a provider that is down fails its own sign-ins only.
func New(cfg Config, db domain.FederationStore, accounts Accounts, log zerolog.Logger, clock func() time.Time) (*Service, error) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if clock == nil {
		clock = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Service{cfg: cfg, db: db, accounts: accounts, log: log, clock: clock}
	for _, p := range cfg.Providers {
		redirect := cfg.PublicURL + "/auth/providers/" + url.PathEscape(p.Name) + "/callback"
		var up upstream
		switch p.Kind {
		case domain.ProviderOIDC:
			up = newOIDC(p, redirect, cfg.HTTPClient)
		case domain.ProviderGitHub:
			up = newGitHub(p, redirect, cfg.HTTPClient)
		default:
			return nil, errors.New("federation: provider " + p.Name + ": unknown kind " + p.Kind)
		}
		s.providers = append(s.providers, &provider{Provider: p, up: up})
	}
	return s, nil
}

// Providers lists the configured providers.
func (s *Service) Providers() []domain.ProviderInfo {
	out := make([]domain.ProviderInfo, 0, len(s.providers))
	for _, p := range s.providers {
		out = append(out, domain.ProviderInfo{Name: p.Name, Label: p.Label, Kind: p.Kind})
	}
	return out
}

func (s *Service) provider(name string) (*provider, error) {
	i := slices.IndexFunc(s.providers, func(p *provider) bool { return p.Name == name })
	if i < 0 {
		return nil, domain.ErrProviderNotFound
	}
	return s.providers[i], nil
}

func (p *provider) policy() domain.ProviderPolicy {
	return domain.ProviderPolicy{AutoCreate: p.AutoCreate, AllowedEmailDomains: p.AllowedEmailDomains, TrustMFA: p.TrustMFA}
}

// Start begins a sign-in at the provider for an app that holds the PKCE
// verifier of codeChallenge.
func (s *Service) Start(ctx context.Context, name, redirectTo, codeChallenge string) (string, error) {
	if err := checkChallenge(codeChallenge, "query"); err != nil {
		return "", err
	}
	return s.start(ctx, name, redirectTo, domain.FederationFlow{CodeChallenge: codeChallenge})
}

// StartLink begins linking the provider to the signed-in user. Like a
// sign-in it ends in a one-time code bound to the app's PKCE verifier,
// which only that user may redeem (ExchangeLink): a link URL sent to
// someone else links nothing.
func (s *Service) StartLink(ctx context.Context, pr *domain.Principal, name, password, redirectTo, codeChallenge string) (string, error) {
	if _, err := s.provider(name); err != nil {
		return "", err
	}
	if err := checkChallenge(codeChallenge, "body"); err != nil {
		return "", err
	}
	if err := s.accounts.RecentOrPassword(ctx, pr, password); err != nil {
		return "", err
	}
	return s.start(ctx, name, redirectTo, domain.FederationFlow{CodeChallenge: codeChallenge, LinkUserID: pr.User.ID})
}

// checkChallenge requires an S256 PKCE challenge (in the query or the
// body: loc).
func checkChallenge(c, loc string) error {
	var v domain.Validator
	if c == "" {
		v.Add(domain.MsgFieldRequired, domain.TypeMissing, loc, "code_challenge")
	} else if !validChallenge(c) {
		v.Add(domain.MsgCodeChallenge, domain.TypeValueError, loc, "code_challenge")
	}
	return v.Err()
}

func (s *Service) start(ctx context.Context, name, redirectTo string, f domain.FederationFlow) (string, error) {
	p, err := s.provider(name)
	if err != nil {
		return "", err
	}
	target, err := s.redirectTarget(redirectTo)
	if err != nil {
		return "", err
	}
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	authURL, err := p.up.authURL(ctx, state, nonce, verifier)
	if err != nil {
		s.log.Warn().Err(err).Str("provider", name).Msg("identity provider unavailable")
		return "", domain.ErrProviderUnavailable.With(err)
	}
	now := s.clock().UTC()
	f.StateHash, f.Provider, f.Nonce, f.Verifier, f.RedirectTo = domain.HashToken(state), name, nonce, verifier, target
	f.CreatedAt, f.ExpiresAt = now, now.Add(domain.FederationFlowTTL)
	if err := s.db.PutFederationFlow(ctx, &f); err != nil {
		return "", err
	}
	return authURL, nil
}

// Callback finishes the flow of the state in query.
func (s *Service) Callback(ctx context.Context, name string, query map[string][]string) (string, error) {
	q := url.Values(query)
	if q.Get("state") == "" {
		return "", domain.ErrFederationState
	}
	f, err := s.db.TakeFederationFlow(ctx, domain.HashToken(q.Get("state")))
	if err != nil {
		return "", err
	}
	p, err := s.provider(name)
	if err != nil || f.Provider != name {
		return "", domain.ErrFederationState
	}
	if e := q.Get("error"); e != "" || q.Get("code") == "" {
		s.log.Info().Str("provider", name).Str("error", e).Msg("identity provider refused the sign-in")
		return withQuery(f.RedirectTo, "error", domain.ReasonProviderDenied, "error_description", domain.MsgProviderDenied), nil
	}
	x, err := p.up.identity(ctx, q.Get("code"), f.Verifier, f.Nonce)
	if err != nil {
		s.log.Warn().Err(err).Str("provider", name).Msg("identity provider's answer refused")
		return errorRedirect(f.RedirectTo, err), nil
	}
	x.Provider = name
	code, now := randomString(), s.clock().UTC()
	c := &domain.FederationCode{CodeHash: domain.HashToken(code), CodeChallenge: f.CodeChallenge, LinkUserID: f.LinkUserID,
		Identity: *x, CreatedAt: now, ExpiresAt: now.Add(domain.FederationCodeTTL)}
	if err := s.db.PutFederationCode(ctx, c); err != nil {
		return "", err
	}
	return withQuery(f.RedirectTo, "code", code), nil
}

// Exchange trades a one-time code and its PKCE verifier for the sign-in.
// The code is used up by the attempt, right or wrong.
func (s *Service) Exchange(ctx context.Context, code, verifier string) (*domain.AccessToken, error) {
	c, p, err := s.redeem(ctx, code, verifier)
	if err != nil {
		return nil, err
	}
	if c.LinkUserID != 0 { // a link's code signs nobody in
		return nil, domain.ErrFederationCode
	}
	return s.accounts.FederatedSignIn(ctx, p.policy(), c.Identity)
}

// ExchangeLink redeems a link's code and verifier for the signed-in user
// who started the link, and links the identity to them.
func (s *Service) ExchangeLink(ctx context.Context, pr *domain.Principal, code, verifier string) (string, error) {
	c, p, err := s.redeem(ctx, code, verifier)
	if err != nil {
		return "", err
	}
	if c.LinkUserID == 0 || c.LinkUserID != pr.User.ID {
		return "", domain.ErrFederationCode
	}
	return p.Name, s.accounts.LinkIdentity(ctx, p.policy(), pr.User.ID, c.Identity)
}

// redeem takes the code (used up, right or wrong) and checks the verifier
// against the start's challenge; it returns the code and its provider.
func (s *Service) redeem(ctx context.Context, code, verifier string) (*domain.FederationCode, *provider, error) {
	var v domain.Validator
	if code == "" {
		v.Add(domain.MsgFieldRequired, domain.TypeMissing, "body", "code")
	}
	if verifier == "" {
		v.Add(domain.MsgFieldRequired, domain.TypeMissing, "body", "code_verifier")
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	c, err := s.db.TakeFederationCode(ctx, domain.HashToken(code))
	if err != nil {
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(oauth2.S256ChallengeFromVerifier(verifier)), []byte(c.CodeChallenge)) != 1 {
		return nil, nil, domain.ErrFederationVerifier
	}
	p, err := s.provider(c.Identity.Provider)
	if err != nil { // removed from the configuration meanwhile
		return nil, nil, domain.ErrFederationCode
	}
	return c, p, nil
}

// Identities lists the signed-in user's linked identities.
func (s *Service) Identities(ctx context.Context, pr *domain.Principal) ([]*domain.Identity, error) {
	return s.accounts.Identities(ctx, pr)
}

// Unlink removes one of the signed-in user's identities.
func (s *Service) Unlink(ctx context.Context, pr *domain.Principal, id int64) error {
	return s.accounts.UnlinkIdentity(ctx, pr, id)
}

// redirectTarget returns the absolute URL the callback sends the browser
// to: a path of authsvc's own (starting with one "/"), or a URL on the
// allow-list; ErrRedirectNotAllowed otherwise.
func (s *Service) redirectTarget(to string) (string, error) {
	if strings.HasPrefix(to, "/") && !strings.HasPrefix(to, "//") && !strings.HasPrefix(to, "/\\") {
		if _, err := url.Parse(s.cfg.PublicURL + to); err != nil {
			return "", domain.ErrRedirectNotAllowed
		}
		return s.cfg.PublicURL + to, nil
	}
	if RedirectAllowed(s.cfg.RedirectAllowList, to) {
		return to, nil
	}
	return "", domain.ErrRedirectNotAllowed
}

// RedirectAllowed reports whether to matches an entry of allow: the same
// URL (its query aside), or, for an entry ending in "/*", a URL of the same
// scheme and host whose path is below the entry's. No fragment, no user
// info; the scheme and host compare case-insensitively, the path exactly.
func RedirectAllowed(allow []string, to string) bool {
	u, err := url.Parse(to)
	if err != nil || u.Fragment != "" || u.User != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") {
		return false
	}
	for _, a := range allow {
		prefix, wild := strings.CutSuffix(a, "*")
		e, err := url.Parse(prefix)
		if err != nil || !strings.EqualFold(e.Scheme, u.Scheme) || !strings.EqualFold(e.Host, u.Host) {
			continue
		}
		if (wild && strings.HasPrefix(u.Path, e.Path)) || (!wild && u.Path == e.Path) {
			return true
		}
	}
	return false
}

// errorRedirect is redirect with err as an OAuth-style error=&error_description=.
func errorRedirect(redirect string, err error) string {
	reason, msg := domain.ReasonProviderFailed, domain.MsgProviderFailed
	var e *domain.Error
	if errors.As(err, &e) && e.Reason != "" {
		reason, msg = e.Reason, e.Message
	}
	return withQuery(redirect, "error", reason, "error_description", msg)
}

// withQuery adds the key-value pairs to the URL's query.
func withQuery(raw string, kv ...string) string {
	u, err := url.Parse(raw)
	if err != nil { // stored by start from a parsed URL
		return raw
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// validChallenge reports whether c looks like an S256 challenge: 43
// characters of base64url.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

func randomString() string { return domain.RandomToken(32) }
