package oidcprovider_test

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// webApp is a relying party a browser can use: /login sends it to authsvc
// (code flow, PKCE, state, nonce), /callback verifies the ID token with
// go-oidc and shows who signed in, /logout sends it to end_session.
type webApp struct {
	URL     string
	mu      sync.Mutex
	pending map[string]string // state → PKCE verifier
	idToken string
	rp      *rp
}

func newWebApp(t *testing.T, e *idp, name string, firstParty bool) *webApp {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &webApp{URL: "http://" + l.Addr().String(), pending: map[string]string{}}
	c := e.client(t, domain.NewOIDCClient{Name: name, FirstParty: firstParty, RedirectURIs: []string{a.URL + "/callback"},
		PostLogoutRedirectURIs: []string{a.URL + "/"}})
	a.rp = newRP(t, e, c, gooidc.ScopeOpenID, "profile")
	a.rp.conf.RedirectURL = a.URL + "/callback"
	srv := httptest.NewUnstartedServer(a.handler())
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return a
}

func (a *webApp) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		verifier := oauth2.GenerateVerifier()
		state := oauth2.GenerateVerifier()
		a.mu.Lock()
		a.pending[state] = verifier
		a.mu.Unlock()
		http.Redirect(w, r, a.rp.conf.AuthCodeURL(state, gooidc.Nonce("n-"+state), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		state := r.URL.Query().Get("state")
		a.mu.Lock()
		verifier, ok := a.pending[state]
		delete(a.pending, state)
		a.mu.Unlock()
		if !ok {
			http.Error(w, "unknown state", http.StatusBadRequest)
			return
		}
		tok, err := a.rp.conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := a.rp.verifier.Verify(r.Context(), raw)
		var claims struct {
			Nonce    string   `json:"nonce"`
			Username string   `json:"preferred_username"`
			AMR      []string `json:"amr"`
			ACR      string   `json:"acr"`
		}
		if err != nil || idt.Claims(&claims) != nil || claims.Nonce != "n-"+state {
			http.Error(w, fmt.Sprintf("ID token: %v", err), http.StatusBadGateway)
			return
		}
		a.mu.Lock()
		a.idToken = raw
		a.mu.Unlock()
		_, _ = fmt.Fprintf(w, "<html><body><h1 id=who>Signed in as %s</h1><p id=how>%s</p></body></html>",
			html.EscapeString(claims.Username), html.EscapeString(strings.Join(claims.AMR, " ")+"; "+claims.ACR))
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		var disc struct {
			EndSession string `json:"end_session_endpoint"`
		}
		_ = a.rp.provider.Claims(&disc)
		a.mu.Lock()
		q := url.Values{"id_token_hint": {a.idToken}, "post_logout_redirect_uri": {a.URL + "/"}}
		a.mu.Unlock()
		http.Redirect(w, r, disc.EndSession+"?"+q.Encode(), http.StatusFound)
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, "<html><body><h1 id=out>Signed out</h1></body></html>")
	})
	return mux
}

// TestSignInRealBrowser: in headless Chromium, an app sends the browser to
// authsvc; the user types the password and a TOTP code and consents; the
// app verifies the ID token. A second app in the same browser signs in
// without the password; signing out of the first ends both.
func TestSignInRealBrowser(t *testing.T) {
	t.Parallel()
	testkit.Chromium(t)
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := newIDP(t, be.URL(t))
			u := e.user(t, "dora")
			secret := enrolTOTP(t, e, u)
			first := newWebApp(t, e, "Team wiki", false)
			second := newWebApp(t, e, "Dashboard", true)
			b := testkit.NewChrome(t, 90*time.Second)
			steps := []struct {
				name string
				do   []chromedp.Action[chromedp.Void]
			}{
				{"the first app sends the browser to the sign-in page", []chromedp.Action[chromedp.Void]{
					chromedp.Navigate(first.URL + "/login"),
					chromedp.WaitVisible(chromedp.ID("username")),
					chromedp.SendKeys(chromedp.ID("username"), u.Username),
					chromedp.SendKeys(chromedp.ID("password"), password(u)),
					chromedp.Submit(chromedp.ID("password")),
					chromedp.WaitVisible(chromedp.ID("code")),
				}},
				{"the TOTP step, then consent", []chromedp.Action[chromedp.Void]{
					chromedp.SendKeys(chromedp.ID("code"), nextCode(t, secret)),
					chromedp.Submit(chromedp.ID("code")),
					chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
					chromedp.Click(chromedp.CSS(`button[value="allow"]`)),
					chromedp.WaitVisible(chromedp.ID("who")),
				}},
			}
			for _, st := range steps {
				if err := chromedp.Do(b, st.do...); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
			}
			who, err := chromedp.Run(b, chromedp.Text(chromedp.ID("who")))
			if err != nil || who != "Signed in as dora" {
				t.Fatalf("the first app shows %q (%v)", who, err)
			}
			if how, err := chromedp.Run(b, chromedp.Text(chromedp.ID("how"))); err != nil || how != "pwd otp; aal2" {
				t.Fatalf("the ID token's amr and acr: %q (%v), want the password and the TOTP code", how, err)
			}
			// The second app: straight back signed in, no password.
			if err := chromedp.Do(b, chromedp.Navigate(second.URL+"/login"), chromedp.WaitVisible(chromedp.ID("who"))); err != nil {
				t.Fatalf("silent sign-in to the second app: %v", err)
			}
			if who, _ := chromedp.Run(b, chromedp.Text(chromedp.ID("who"))); who != "Signed in as dora" {
				t.Fatalf("the second app shows %q", who)
			}
			// Sign out through the first app: both lose the authsvc session.
			if err := chromedp.Do(b, chromedp.Navigate(first.URL+"/logout"), chromedp.WaitVisible(chromedp.ID("out"))); err != nil {
				t.Fatalf("sign out: %v", err)
			}
			for _, app := range []*webApp{first, second} {
				if err := chromedp.Do(b, chromedp.Navigate(app.URL+"/login"), chromedp.WaitVisible(chromedp.ID("password"))); err != nil {
					t.Fatalf("after sign-out, %s did not ask for the password: %v", app.URL, err)
				}
			}
		})
	}
}

// enrolTOTP enrols u in TOTP and returns the secret.
func enrolTOTP(t *testing.T, e *idp, u *domain.User) string {
	t.Helper()
	return testkit.EnrolTOTP(t, e.Stack.Auth, u.Username, password(u))
}

// nextCode is the code of the next 30-second step.
func nextCode(t *testing.T, secret string) string { return testkit.NextTOTPCode(t, secret) }
