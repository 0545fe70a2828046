package oidcprovider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// rp is a relying party not written here: golang.org/x/oauth2 for the
// protocol, coreos/go-oidc to discover the provider and verify ID tokens
// against its JWKS.
type rp struct {
	conf     oauth2.Config
	verifier *gooidc.IDTokenVerifier
	provider *gooidc.Provider
}

func newRP(t testing.TB, e *idp, c *domain.CreatedOIDCClient, scopes ...string) *rp {
	t.Helper()
	p, err := gooidc.NewProvider(context.Background(), e.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess}
	}
	return &rp{provider: p, verifier: p.Verifier(&gooidc.Config{ClientID: c.ID}),
		conf: oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: p.Endpoint(), RedirectURL: rpCallback, Scopes: scopes}}
}

// authorize runs the browser part: the authorize redirect, the sign-in
// page, consent when asked, and returns the code at the callback.
func (r *rp) authorize(t testing.TB, e *idp, b *http.Client, u *domain.User, state, nonce string, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	opts = append(opts, gooidc.Nonce(nonce))
	pg := get(t, b, r.conf.AuthCodeURL(state, opts...))
	if pg.loc == nil {
		if pg.heading != "Sign in" {
			t.Fatalf("authorize: %d %q", pg.status, pg.body)
		}
		pg = post(t, b, e.URL, "/signin", pg, url.Values{"username": {u.Username}, "password": {password(u)}})
	}
	if pg.loc == nil && pg.heading == "Allow access?" {
		pg = post(t, b, e.URL, "/consent", pg, url.Values{"decision": {"allow"}})
	}
	if pg.loc == nil {
		t.Fatalf("no redirect to the client: %d %q", pg.status, pg.body)
	}
	q := pg.loc.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback %s: want a code and state %q", pg.loc, state)
	}
	return q.Get("code")
}

// TestAuthorizationCodeFlow: a relying party signs a user in with the
// code flow and PKCE, verifies the ID token against discovery and the
// JWKS, calls userinfo, refreshes (rotating), and a second client of the
// same browser signs in without the password.
func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := newIDP(t, be.URL(t))
			ctx := context.Background()
			u := e.user(t, "alice")
			app := newRP(t, e, e.client(t, domain.NewOIDCClient{Name: "Web app"}))
			b := browser(t)
			verifier, _ := pkce()
			code := app.authorize(t, e, b, u, "state-1", "nonce-1", oauth2.S256ChallengeOption(verifier))
			tok, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := app.verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			var claims struct {
				Nonce             string   `json:"nonce"`
				AuthTime          int64    `json:"auth_time"`
				AMR               []string `json:"amr"`
				ACR               string   `json:"acr"`
				Email             string   `json:"email"`
				EmailVerified     *bool    `json:"email_verified"`
				PreferredUsername string   `json:"preferred_username"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if idt.Subject != strconv.FormatInt(u.ID, 10) || claims.Nonce != "nonce-1" || claims.AuthTime == 0 ||
				strings.Join(claims.AMR, " ") != "pwd" || claims.ACR != domain.ACRSingleFactor ||
				claims.Email != u.Email || (claims.EmailVerified != nil && *claims.EmailVerified) || claims.PreferredUsername != u.Username {
				t.Fatalf("ID token claims: sub %s %+v", idt.Subject, claims)
			}
			if alg := headerAlg(t, raw); alg != "RS256" {
				t.Errorf("ID token signed with %s, want RS256", alg)
			}
			info, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || info.Subject != idt.Subject || info.Email != u.Email {
				t.Fatalf("userinfo: %+v %v", info, err)
			}
			// Refresh rotates: the new refresh token works, the old one is spent.
			fresh, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh: %v (%v)", fresh, err)
			}
			// A second app in the same browser (first party: no consent page)
			// signs in without the password.
			other := newRP(t, e, e.client(t, domain.NewOIDCClient{Name: "Other app", FirstParty: true}))
			pg := get(t, b, other.conf.AuthCodeURL("s2", gooidc.Nonce("n2"), oauth2.S256ChallengeOption(verifier)))
			if pg.loc == nil || pg.loc.Query().Get("code") == "" {
				t.Fatalf("silent sign-in to the second app: %d %s %q", pg.status, pg.loc, pg.heading)
			}
			tok2, err := other.conf.Exchange(ctx, pg.loc.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.verifier.Verify(ctx, tok2.Extra("id_token").(string)); err != nil {
				t.Fatal(err)
			}
			// The provider's requests are in the access log, by route; no code
			// or token is.
			logs := e.logs.String()
			if !strings.Contains(logs, `"route":"/oauth2/token"`) || !strings.Contains(logs, `"route":"/signin"`) {
				t.Errorf("the access log lacks the provider's and the pages' requests:\n%s", logs)
			}
			// The page's sign-in is audited with the request's id, as the API's are.
			var ids []string
			if err := storetest.SQLFor(t, e.dbURL).Select(&ids, `SELECT request_id FROM audit_events WHERE event = 'login.succeeded'`); err != nil ||
				len(ids) != 1 || ids[0] == "" {
				t.Errorf("the page's login.succeeded has request ids %q (%v), want one", ids, err)
			}
			for _, secret := range []string{code, tok.AccessToken, tok.RefreshToken, fresh.RefreshToken, raw} {
				if strings.Contains(logs, secret) {
					t.Fatalf("a code or token is in the log")
				}
			}
		})
	}
}

func headerAlg(t testing.TB, jwt string) string {
	t.Helper()
	var h struct {
		Alg string `json:"alg"`
	}
	part, _, _ := strings.Cut(jwt, ".")
	b, err := base64Decode(part)
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("JWT header %q", part)
	}
	return h.Alg
}

// TestCodeRedeemedOnce: of 20 concurrent redemptions of one code exactly
// one gets tokens, and those tokens are revoked (RFC 6749 §4.1.2).
func TestCodeRedeemedOnce(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := newIDP(t, be.URL(t))
			ctx := context.Background()
			u := e.user(t, "racer")
			app := newRP(t, e, e.client(t, domain.NewOIDCClient{FirstParty: true}))
			verifier, _ := pkce()
			code := app.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				won  []*oauth2.Token
				lost int
			)
			for range 20 {
				wg.Go(func() {
					tok, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						won = append(won, tok)
						return
					}
					if re := (*oauth2.RetrieveError)(nil); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
						t.Errorf("a losing redemption: %v", err)
					}
					lost++
				})
			}
			wg.Wait()
			if len(won) != 1 || lost != 19 {
				t.Fatalf("%d redemptions got tokens, %d were refused; want 1 and 19", len(won), lost)
			}
			if _, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(won[0])); err == nil {
				t.Fatal("the access token of a replayed code still works at userinfo")
			}
			if _, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: won[0].RefreshToken}).Token(); err == nil {
				t.Fatal("the refresh token of a replayed code still works")
			}
		})
	}
}

// TestIDTokenAlgorithm: a client registered for ES256 gets ES256 ID
// tokens (from an ES256 key in state next) while others keep RS256; a
// client asking for an algorithm no key has gets a server error, not a
// token signed otherwise.
func TestIDTokenAlgorithm(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	u := e.user(t, "grace")
	eddsa := newRP(t, e, e.client(t, domain.NewOIDCClient{FirstParty: true, IDTokenAlg: "EdDSA"}))
	eddsa.conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // no retry in the form, which would replay the code
	verifier, _ := pkce()
	code := eddsa.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
	if _, err := eddsa.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); oauthError(err) != "server_error" {
		t.Fatalf("EdDSA without an EdDSA key: %v", err)
	}
	if _, err := e.Stack.Keys.Generate(ctx, "ES256"); err != nil {
		t.Fatal(err)
	}
	if err := e.Stack.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	es := newRP(t, e, e.client(t, domain.NewOIDCClient{FirstParty: true, IDTokenAlg: "ES256"}))
	var disc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := es.provider.Claims(&disc); err != nil || strings.Join(disc.Algs, " ") != "RS256 ES256" {
		t.Fatalf("discovery lists %v (%v)", disc.Algs, err)
	}
	code = es.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
	tok, err := es.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw := tok.Extra("id_token").(string)
	v := es.provider.Verifier(&gooidc.Config{ClientID: es.conf.ClientID, SupportedSigningAlgs: []string{"ES256"}})
	if _, err := v.Verify(ctx, raw); err != nil || headerAlg(t, raw) != "ES256" {
		t.Fatalf("ES256 ID token: %s %v", headerAlg(t, raw), err)
	}
}
