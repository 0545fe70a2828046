package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestIdentityProvidersFromTheFile: identity_providers come from the YAML
// file; a secret file is read, the label and auto_create default, email
// domains are canonical.
func TestIdentityProvidersFromTheFile(t *testing.T) {
	dir := chdirTemp(t)
	writeFile(t, filepath.Join(dir, "google-secret"), "s3cret\n")
	writeFile(t, filepath.Join(dir, "config.yaml"), `
server:
  public_url: https://login.example.com
auth:
  redirect_allow_list: [https://app.example.com/done, "https://app.example.com/oauth/*"]
identity_providers:
  - {name: google, kind: oidc, issuer: https://accounts.google.com, client_id: g, client_secret_file: google-secret,
     allowed_email_domains: ["@Example.COM"]}
  - {name: github, kind: github, label: GitHub, client_id: h, client_secret: x, auto_create: false, trust_mfa: true}
`)
	cfg, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, h := cfg.IdentityProviders[0], cfg.IdentityProviders[1]
	got := []any{g.Label, g.ClientSecret, g.AllowedEmailDomains, g.Creates(), h.Label, h.Creates(), h.TrustMFA, cfg.PublicURL(),
		cfg.Auth.RedirectAllowList}
	want := []any{"google", "s3cret", []string{"example.com"}, true, "GitHub", false, true, "https://login.example.com",
		[]string{"https://app.example.com/done", "https://app.example.com/oauth/*"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestIdentityProviderValidation(t *testing.T) {
	const ok = `{name: google, kind: oidc, issuer: https://accounts.google.com, client_id: g, client_secret: s}`
	tests := []struct{ yaml, want string }{
		{"identity_providers: [" + ok + "]", `server.public_url: must be the https URL browsers reach authsvc at`},
		{"server: {public_url: http://login.example.com}\nidentity_providers: [" + ok + "]", `server.public_url: must be the https URL`},
		{"server: {public_url: https://l.example}\nidentity_providers: [" + ok + ", " + ok + "]", `identity_providers[google]: the name is used twice`},
		{"server: {public_url: https://l.example}\nidentity_providers: [{name: Google!, kind: oidc, issuer: https://a.example, client_id: g, client_secret: s}]",
			`identity_providers: entry 1: name "Google!" must be 1-32 of a-z, 0-9 and -`},
		{"server: {public_url: https://l.example}\nidentity_providers: [{name: x, kind: saml, client_id: g, client_secret: s}]", `identity_providers[x].kind: must be oidc or github, not "saml"`},
		{"server: {public_url: https://l.example}\nidentity_providers: [{name: x, kind: oidc, issuer: http://idp.example, client_id: g, client_secret: s}]",
			`identity_providers[x].issuer: "http://idp.example" must be an https URL`},
		{"server: {public_url: https://l.example}\nidentity_providers: [{name: x, kind: oidc, issuer: https://idp.example}]", `identity_providers[x].client_id: is required`},
		{"server: {public_url: https://l.example}\nidentity_providers: [{name: x, kind: oidc, issuer: https://idp.example, client_id: g}]", `identity_providers[x].client_secret: is required (or client_secret_file)`},
		{"server: {public_url: https://l.example}\nidentity_providers: [{name: x, kind: github, client_id: g, client_secret: s, client_secret_file: f}]",
			`identity_providers[x].client_secret: set client_secret or client_secret_file, not both`},
		{"server: {public_url: https://l.example}\nidentity_providers: [{name: x, kind: github, client_id: g, client_secret_file: /nonexistent/secret}]",
			`identity_providers[x].client_secret_file:`},
		{"auth: {redirect_allow_list: [/relative]}", `auth.redirect_allow_list: "/relative" must be an absolute http(s) URL`},
		{"auth: {redirect_allow_list: [\"https://app.example.com*\"]}", `auth.redirect_allow_list: "https://app.example.com*" must be`},
		{"auth: {redirect_allow_list: [\"https://app.example.com/a*b\"]}", `auth.redirect_allow_list: "https://app.example.com/a*b" must be`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			dir := chdirTemp(t)
			writeFile(t, filepath.Join(dir, "config.yaml"), tt.yaml+"\n")
			_, err := Load(Options{})
			if err == nil || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
