package oidcprovider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// oauthError is the OAuth error code of a token-endpoint failure.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// TestRefusals: what the provider must refuse, and how.
func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := newIDP(t, be.URL(t))
			ctx := context.Background()
			u := e.user(t, "bob")
			web := e.client(t, domain.NewOIDCClient{Name: "Web", FirstParty: true})
			app := newRP(t, e, web)
			spa := e.client(t, domain.NewOIDCClient{Name: "SPA", Public: true, FirstParty: true})
			spaRP := newRP(t, e, spa)
			verifier, challenge := pkce()

			t.Run("an unregistered redirect_uri is never redirected to", func(t *testing.T) {
				for _, q := range []url.Values{
					{"client_id": {web.ID}, "redirect_uri": {"https://evil.example/cb"}},
					{"client_id": {"no-such-client"}, "redirect_uri": {"https://evil.example/cb"}},
					{"client_id": {web.ID}, "redirect_uri": {rpCallback + "/more"}}, // no prefix match
				} {
					q.Set("response_type", "code")
					q.Set("scope", "openid")
					q.Set("code_challenge", challenge)
					q.Set("code_challenge_method", "S256")
					pg := get(t, browser(t), e.URL+"/oauth2/authorize?"+q.Encode())
					if pg.loc != nil || pg.status/100 == 3 || pg.status < 400 {
						t.Errorf("%v: %d %v, want an error page", q, pg.status, pg.loc)
					}
				}
			})
			authorizeError := func(t *testing.T, c *domain.CreatedOIDCClient, q url.Values) url.Values {
				t.Helper()
				q.Set("client_id", c.ID)
				q.Set("redirect_uri", rpCallback)
				q.Set("response_type", "code")
				q.Set("scope", "openid")
				q.Set("state", "st")
				pg := get(t, browser(t), e.URL+"/oauth2/authorize?"+q.Encode())
				if pg.loc == nil || !strings.HasPrefix(pg.loc.String(), rpCallback) {
					t.Fatalf("%v: %d %q, want a redirect to the client", q, pg.status, pg.body)
				}
				return pg.loc.Query()
			}
			t.Run("plain PKCE is refused", func(t *testing.T) {
				got := authorizeError(t, web, url.Values{"code_challenge": {verifier}, "code_challenge_method": {"plain"}})
				if got.Get("error") != "invalid_request" || got.Get("code") != "" || got.Get("state") != "st" {
					t.Fatalf("%v", got)
				}
				got = authorizeError(t, web, url.Values{"code_challenge": {verifier}}) // no method is plain
				if got.Get("error") != "invalid_request" || got.Get("code") != "" {
					t.Fatalf("%v", got)
				}
			})
			t.Run("a public client must use PKCE", func(t *testing.T) {
				got := authorizeError(t, spa, url.Values{})
				if got.Get("error") != "invalid_request" || got.Get("code") != "" {
					t.Fatalf("%v", got)
				}
			})
			t.Run("prompt=none without a session answers login_required", func(t *testing.T) {
				got := authorizeError(t, web, url.Values{"prompt": {"none"}, "code_challenge": {challenge},
					"code_challenge_method": {"S256"}})
				if got.Get("error") != "login_required" || got.Get("state") != "st" {
					t.Fatalf("%v", got)
				}
			})
			t.Run("a PKCE verifier that does not match", func(t *testing.T) {
				code := spaRP.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
				_, err := spaRP.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier+"x"))
				if oauthError(err) != "invalid_grant" {
					t.Fatalf("exchange with a wrong verifier: %v", err)
				}
			})
			t.Run("a reused refresh token revokes its family", func(t *testing.T) {
				code := app.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
				tok, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatal(err)
				}
				next, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
				if err != nil {
					t.Fatal(err)
				}
				_, err = app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
				if oauthError(err) != "invalid_grant" {
					t.Fatalf("reuse: %v", err)
				}
				if _, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); oauthError(err) != "invalid_grant" {
					t.Fatalf("the family's newest refresh token after a reuse: %v", err)
				}
				if _, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(next)); err == nil {
					t.Fatal("the family's access token still works at userinfo")
				}
			})
			t.Run("a revoked refresh token", func(t *testing.T) {
				code := app.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
				tok, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatal(err)
				}
				form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
				req, _ := http.NewRequest(http.MethodPost, e.URL+"/oauth2/revoke", strings.NewReader(form.Encode()))
				req.SetBasicAuth(web.ID, web.Secret)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("revoke: %v %v", resp, err)
				}
				_ = resp.Body.Close()
				if _, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); oauthError(err) != "invalid_grant" {
					t.Fatalf("a revoked refresh token: %v", err)
				}
				if _, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
					t.Fatal("the revoked family's access token still works at userinfo")
				}
			})
			t.Run("a public client cannot use client credentials", func(t *testing.T) {
				if _, err := e.Stack.Clients.Create(ctx, domain.NewOIDCClient{Name: "x", Public: true,
					Grants: []string{domain.GrantClientCredentials}}); domain.ErrorCode(err) != domain.EVALIDATION {
					t.Fatalf("registering one: %v", err)
				}
				cc := clientcredentials.Config{ClientID: spa.ID, TokenURL: app.provider.Endpoint().TokenURL, Scopes: []string{"openid"}}
				if _, err := cc.Token(ctx); oauthError(err) != "invalid_client" {
					t.Fatalf("client credentials of a public client: %v", err)
				}
			})
			t.Run("a form posted cross-site", func(t *testing.T) {
				b := browser(t)
				pg := get(t, b, e.URL+"/signin")
				form := url.Values{"csrf": {pg.fields.Get("csrf")}, "username": {u.Username}, "password": {password(u)}}
				req, _ := http.NewRequest(http.MethodPost, e.URL+"/signin", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "cross-site")
				req.Header.Set("Origin", "https://evil.example")
				if got := fetch(t, b, req); got.status != http.StatusForbidden {
					t.Fatalf("cross-site sign-in post: %d", got.status)
				}
			})
			t.Run("an app's access token is not an API token", func(t *testing.T) {
				code := app.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
				tok, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest(http.MethodGet, e.URL+"/auth/me", nil)
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("GET /auth/me with an OIDC access token: %d", resp.StatusCode)
				}
			})
		})
	}
}

// TestClientCredentials: a confidential client gets a token for itself
// (sub = the client) and calls POST /keys/verify with it; revoked, the
// token stops working there.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	svc := e.client(t, domain.NewOIDCClient{Name: "Billing", Grants: []string{domain.GrantClientCredentials},
		Scopes: []string{"keys:verify"}})
	cc := clientcredentials.Config{ClientID: svc.ID, ClientSecret: svc.Secret, TokenURL: e.URL + "/oauth2/token"}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	verify := func() int {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/keys/verify", strings.NewReader(`{"key":"ask_unknown"}`))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := verify(); got != http.StatusOK {
		t.Fatalf("POST /keys/verify with a client-credentials token: %d", got)
	}
	form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/oauth2/introspect", strings.NewReader(form.Encode()))
	req.SetBasicAuth(svc.ID, svc.Secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var intro struct {
		Active   bool   `json:"active"`
		ClientID string `json:"client_id"`
		Sub      string `json:"sub"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&intro)
	_ = resp.Body.Close()
	if !intro.Active || intro.ClientID != svc.ID || intro.Sub != svc.ID {
		t.Fatalf("introspection: %+v", intro)
	}
	// Another client learns nothing of it.
	other := e.client(t, domain.NewOIDCClient{Name: "Other", Grants: []string{domain.GrantClientCredentials}, Scopes: []string{"keys:verify"}})
	req, _ = http.NewRequest(http.MethodPost, e.URL+"/oauth2/introspect", strings.NewReader(form.Encode()))
	req.SetBasicAuth(other.ID, other.Secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	var foreign map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&foreign)
	_ = resp.Body.Close()
	if foreign["active"] != false || foreign["sub"] != nil {
		t.Fatalf("another client's introspection: %v", foreign)
	}
	req, _ = http.NewRequest(http.MethodPost, e.URL+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.SetBasicAuth(svc.ID, svc.Secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	if got := verify(); got != http.StatusUnauthorized {
		t.Fatalf("POST /keys/verify with a revoked token: %d", got)
	}
}

// TestEndSession: RP-initiated logout ends the browser's session at
// authsvc and returns to a registered post_logout_redirect_uri; the next
// sign-in asks for the password again.
func TestEndSession(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	u := e.user(t, "carol")
	after := "http://127.0.0.1:1/signed-out"
	c := e.client(t, domain.NewOIDCClient{FirstParty: true, PostLogoutRedirectURIs: []string{after}})
	app := newRP(t, e, c)
	b := browser(t)
	verifier, _ := pkce()
	code := app.authorize(t, e, b, u, "s", "n", oauth2.S256ChallengeOption(verifier))
	tok, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := app.provider.Claims(&disc); err != nil || disc.EndSession == "" {
		t.Fatalf("discovery end_session_endpoint: %q %v", disc.EndSession, err)
	}
	stop := &http.Client{Jar: b.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"https://evil.example/"}}
	if pg := get(t, stop, disc.EndSession+"?"+q.Encode()); pg.loc != nil && strings.HasPrefix(pg.loc.String(), "https://evil.example") {
		t.Fatalf("end_session redirected to an unregistered URI: %s", pg.loc)
	}
	q.Set("post_logout_redirect_uri", after)
	q.Set("state", "bye")
	pg := get(t, stop, disc.EndSession+"?"+q.Encode())
	if pg.loc == nil || !strings.HasPrefix(pg.loc.String(), after) || pg.loc.Query().Get("state") != "bye" {
		t.Fatalf("end_session: %d %v", pg.status, pg.loc)
	}
	if pg := get(t, b, app.conf.AuthCodeURL("s2", gooidc.Nonce("n2"), oauth2.S256ChallengeOption(verifier))); pg.heading != "Sign in" {
		t.Fatalf("after the logout the next sign-in: %d %q %v", pg.status, pg.heading, pg.loc)
	}
}

// TestAuthorizeRateLimit: authorization requests are limited per client IP
// at ratelimit.auth_per_minute (each writes a row); the token endpoint is
// not (one app exchanges every user's code from one address).
func TestAuthorizeRateLimit(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.SQLiteURL(t), func(c *config.Config) { c.RateLimit.AuthPerMinute = 3 })
	c := e.client(t, domain.NewOIDCClient{FirstParty: true})
	_, challenge := pkce()
	q := url.Values{"client_id": {c.ID}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	stop := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 4 {
		resp, err := stop.Get(e.URL + "/oauth2/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		want := http.StatusFound
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want || (want == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "") {
			t.Fatalf("authorize %d: %d (Retry-After %q), want %d", i+1, resp.StatusCode, resp.Header.Get("Retry-After"), want)
		}
	}
	for range 5 {
		resp, err := http.PostForm(e.URL+"/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			t.Fatal("the token endpoint is limited per IP")
		}
	}
}

// TestPasswordChangeEndsAppGrants: a password change (the user's token
// version moves) ends what the apps hold: the refresh token and the access
// token at userinfo stop working.
func TestPasswordChangeEndsAppGrants(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := newIDP(t, be.URL(t))
			ctx := context.Background()
			u := e.user(t, "pavel")
			app := newRP(t, e, e.client(t, domain.NewOIDCClient{FirstParty: true}))
			verifier, _ := pkce()
			code := app.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
			tok, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
				t.Fatalf("userinfo before the change: %v", err)
			}
			login, err := e.Stack.Auth.Login(ctx, u.Username, password(u))
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.Stack.Auth.Authenticate(ctx, login.Token)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Stack.Auth.ChangePassword(ctx, p, domain.PasswordChange{Username: u.Username, CurrentPassword: password(u),
				NewPassword: "a brand new passphrase"}); err != nil {
				t.Fatal(err)
			}
			if _, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Error("userinfo still answers the app's access token after the password change")
			}
			_, err = app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if oauthError(err) != "invalid_grant" {
				t.Errorf("refresh after the password change: %v, want invalid_grant", err)
			}
		})
	}
}
