package config

import (
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
)

// IdentityProviderConfig is one upstream identity provider people may sign
// in with (identity_providers[] in the YAML file; docs/federation.md).
type IdentityProviderConfig struct {
	// Name is the provider's id in URLs and in linked identities
	// (a-z, 0-9, -; at most 32). Renaming it orphans its identities.
	Name string `mapstructure:"name"`
	// Kind is "oidc" (any OpenID Connect provider, by Issuer) or "github".
	Kind string `mapstructure:"kind"`
	// Label is the button's text ("Google"); Name when empty.
	Label string `mapstructure:"label"`
	// Issuer is an oidc provider's issuer URL (discovery at
	// Issuer/.well-known/openid-configuration).
	Issuer   string `mapstructure:"issuer"`
	ClientID string `mapstructure:"client_id"`
	// ClientSecret, or ClientSecretFile: a file holding it (a mounted
	// Kubernetes secret), read at start.
	ClientSecret     string   `mapstructure:"client_secret"`
	ClientSecretFile string   `mapstructure:"client_secret_file"`
	Scopes           []string `mapstructure:"scopes"`
	// AllowedEmailDomains, when set, signs in only people whose verified
	// email is in one of them (a company's Google Workspace).
	AllowedEmailDomains []string `mapstructure:"allowed_email_domains"`
	// AutoCreate makes an account for a first sign-in that matches none
	// (default true).
	AutoCreate *bool `mapstructure:"auto_create"`
	// TrustMFA lets the provider's reported second factor (amr) stand in
	// for the account's own.
	TrustMFA bool `mapstructure:"trust_mfa"`
	// GitHubURL and GitHubAPIURL are GitHub Enterprise Server's web and
	// API base URLs (github.com's by default).
	GitHubURL    string `mapstructure:"github_url"`
	GitHubAPIURL string `mapstructure:"github_api_url"`
}

// Creates reports auto_create (true unless set false).
func (p IdentityProviderConfig) Creates() bool { return p.AutoCreate == nil || *p.AutoCreate }

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// PublicURL is where browsers reach authsvc: server.public_url, else
// oidc.issuer.
func (c *Config) PublicURL() string {
	if c.Server.PublicURL != "" {
		return strings.TrimRight(c.Server.PublicURL, "/")
	}
	return strings.TrimRight(c.OIDC.Issuer, "/")
}

// loadProviders reads the client secret files and fills in the labels.
func (c *Config) loadProviders(e *errs) {
	for i := range c.IdentityProviders {
		p := &c.IdentityProviders[i]
		if p.Label == "" {
			p.Label = p.Name
		}
		p.AllowedEmailDomains = splitList(p.AllowedEmailDomains)
		for k, d := range p.AllowedEmailDomains {
			p.AllowedEmailDomains[k] = strings.ToLower(strings.TrimPrefix(d, "@"))
		}
		if p.ClientSecretFile == "" {
			continue
		}
		if p.ClientSecret != "" {
			e.add("identity_providers["+p.Name+"].client_secret", "set client_secret or client_secret_file, not both")
			continue
		}
		b, err := os.ReadFile(p.ClientSecretFile)
		if err != nil {
			e.add("identity_providers["+p.Name+"].client_secret_file", "%v", err)
			continue
		}
		p.ClientSecret = strings.TrimSpace(string(b))
	}
}

// validateProviders checks identity_providers, server.public_url and
// auth.redirect_allow_list.
func (c *Config) validateProviders(e *errs) {
	seen := map[string]bool{}
	for i, p := range c.IdentityProviders {
		key := "identity_providers[" + p.Name + "]"
		if !providerName.MatchString(p.Name) {
			e.add("identity_providers", "entry %d: name %q must be 1-32 of a-z, 0-9 and - (not starting with -)", i+1, p.Name)
			key = "identity_providers"
		}
		if seen[p.Name] {
			e.add(key, "the name is used twice")
		}
		seen[p.Name] = true
		switch p.Kind {
		case domain.ProviderOIDC:
			if !secureURL(p.Issuer) {
				e.add(key+".issuer", "%q must be an https URL (http only on a loopback host)", p.Issuer)
			}
		case domain.ProviderGitHub:
			for name, v := range map[string]string{".github_url": p.GitHubURL, ".github_api_url": p.GitHubAPIURL} {
				if v != "" && !secureURL(v) {
					e.add(key+name, "%q must be an https URL (http only on a loopback host)", v)
				}
			}
		default:
			e.add(key+".kind", "must be oidc or github, not %q", p.Kind)
		}
		if p.ClientID == "" {
			e.add(key+".client_id", "is required")
		}
		if p.ClientSecret == "" && p.ClientSecretFile == "" {
			e.add(key+".client_secret", "is required (or client_secret_file)")
		}
	}
	if len(c.IdentityProviders) > 0 && !secureURL(c.PublicURL()) {
		e.add("server.public_url", "must be the https URL browsers reach authsvc at (http only on a loopback host) when identity_providers are set, not %q",
			c.PublicURL())
	}
	for _, a := range c.Auth.RedirectAllowList {
		prefix, wild := strings.CutSuffix(a, "*")
		u, err := url.Parse(prefix)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" ||
			u.User != nil || strings.Contains(prefix, "*") || (wild && !strings.HasSuffix(u.Path, "/")) {
			e.add("auth.redirect_allow_list", "%q must be an absolute http(s) URL, or one ending in /* for every path below it", a)
		}
	}
}

// secureURL reports whether s is an absolute https URL, or http on a
// loopback host.
func secureURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && domain.IsLoopbackHost(u.Hostname()))
}
