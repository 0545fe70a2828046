package httpapi_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// The identity provider endpoints, every answer checked against the OpenAPI
// document (pkg/federation's tests cover the protocol and the rules in
// depth). The public URL is a placeholder: mockoidc sends the browser back
// to it, and the test brings the callback to the server under test.

const (
	providerPublicURL = "http://127.0.0.1:1"
	providerApp       = "http://127.0.0.1:1/app"
)

func providerEnv(t *testing.T, dbURL string) (*env, *mockoidc.MockOIDC) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	c := m.Config()
	e := newEnv(t, dbURL, envConfig{config: func(conf *config.Config) {
		conf.Server.PublicURL, conf.Auth.RedirectAllowList = providerPublicURL, []string{providerApp}
		conf.IdentityProviders = []config.IdentityProviderConfig{{Name: "mock", Kind: domain.ProviderOIDC, Label: "Mock",
			Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret, AutoCreate: new(true)}}
	}})
	return e, m
}

// stopAtPlaceholder is a client that follows redirects until the
// placeholder public URL (the callback, or the app).
func stopAtPlaceholder() *http.Client {
	return &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), providerPublicURL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// callbackFor follows the provider's redirects from u to the placeholder
// callback and returns that request, aimed at the server under test.
func (e *env) callbackFor(u string) *http.Request {
	e.t.Helper()
	resp, err := stopAtPlaceholder().Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, providerPublicURL+"/auth/providers/") {
		e.t.Fatalf("the provider sent the browser to %q", loc)
	}
	req, _ := http.NewRequest(http.MethodGet, e.URL+strings.TrimPrefix(loc, providerPublicURL), nil)
	return req
}

// providerSignIn runs start → provider → callback and returns the app's
// query and the PKCE verifier.
func (e *env) providerSignIn() (url.Values, string) {
	e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"redirect_to": {providerApp}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"}}
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/auth/providers/mock/start?"+q.Encode(), nil)
	start := e.sendNoFollow(req)
	if start.Status != http.StatusFound {
		e.t.Fatalf("start: %d %s", start.Status, start.Body)
	}
	back := e.sendNoFollow(e.callbackFor(start.Header.Get("Location")))
	to, err := url.Parse(back.Header.Get("Location"))
	if back.Status != http.StatusFound || err != nil || !strings.HasPrefix(to.String(), providerApp) {
		e.t.Fatalf("callback: %d %q %s", back.Status, back.Header.Get("Location"), back.Body)
	}
	return to.Query(), verifier
}

// providerLink links the queued provider account to the bearer's account:
// start (with a PKCE challenge), provider, callback, then the exchange.
func (e *env) providerLink(bearer string) map[string]any {
	e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	link := e.do("POST", "/auth/identities/mock/start", map[string]string{"redirect_to": providerApp,
		"code_challenge": oauth2.S256ChallengeFromVerifier(verifier)}, bearer).want(e.t, http.StatusOK, "")
	back := e.sendNoFollow(e.callbackFor(link["authorization_url"].(string)))
	to, err := url.Parse(back.Header.Get("Location"))
	if back.Status != http.StatusFound || err != nil || to.Query().Get("code") == "" {
		e.t.Fatalf("link callback: %d %q", back.Status, back.Header.Get("Location"))
	}
	e.secret(to.Query().Get("code"))
	return e.do("POST", "/auth/identities/exchange", map[string]string{"code": to.Query().Get("code"), "code_verifier": verifier}, bearer).
		want(e.t, http.StatusOK, "")
}

// sendNoFollow is send without following redirects.
func (e *env) sendNoFollow(req *http.Request) *response {
	e.t.Helper()
	return e.sendWith(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, req)
}

func TestProviderEndpoints(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e, m := providerEnv(t, be.URL(t))
			list := e.do("GET", "/auth/providers", nil, "").want(t, http.StatusOK, "")
			if ps, _ := list["providers"].([]any); len(ps) != 1 {
				t.Fatalf("providers: %v", list)
			}

			m.QueueUser(&mockoidc.MockUser{Subject: "s-1", Email: "nia@example.com", EmailVerified: true, PreferredUsername: "nia"})
			q, verifier := e.providerSignIn()
			e.secret(q.Get("code"))
			tok := e.do("POST", "/auth/providers/exchange", map[string]string{"code": q.Get("code"), "code_verifier": verifier}, "").
				want(t, http.StatusOK, "")["access_token"].(string)
			e.secret(tok)
			e.do("POST", "/auth/providers/exchange", map[string]string{"code": q.Get("code"), "code_verifier": verifier}, "").
				want(t, http.StatusBadRequest, domain.ReasonFederationCode)
			e.do("POST", "/auth/providers/exchange", map[string]string{"code": "x"}, "").want(t, http.StatusUnprocessableEntity, "")

			ids := e.do("GET", "/auth/identities", nil, tok).want(t, http.StatusOK, "")["identities"].([]any)
			if len(ids) != 1 {
				t.Fatalf("identities: %v", ids)
			}
			id := strconv.FormatFloat(ids[0].(map[string]any)["id"].(float64), 'f', 0, 64)
			e.do("DELETE", "/auth/identities/"+id, nil, tok).want(t, http.StatusConflict, domain.ReasonLastSignInMethod)
			e.do("DELETE", "/auth/identities/999999", nil, tok).want(t, http.StatusNotFound, domain.ReasonIdentityNotFound)

			// The account has no password until one is set through a reset.
			nia := &user{Name: "nia", Email: "nia@example.com"}
			e.login("nia", "").want(t, http.StatusUnprocessableEntity, "")
			e.login("nia", "any password at all").want(t, http.StatusUnauthorized, domain.ErrInvalidCredentials.Reason)
			e.secret("Nia-chose-this-1")
			e.do("POST", "/auth/reset-password", map[string]string{"token": e.requestReset(nia), "new_password": "Nia-chose-this-1"}, "").
				want(t, http.StatusOK, "")
			e.login("nia", "Nia-chose-this-1").want(t, http.StatusOK, "")
			var events []string
			if err := e.SQL().Select(&events, `SELECT event FROM audit_events WHERE target_id = (SELECT id FROM users WHERE username = 'nia')
				AND event IN ('user.registered', 'identity.linked', 'login.succeeded') ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			if strings.Join(events, " ") != "user.registered identity.linked login.succeeded login.succeeded" {
				t.Errorf("nia's audit trail: %v, want registered, linked, the provider's sign-in, the password's", events)
			}

			// A password account: identity_exists for an unverified match,
			// then linking from the account, then unlinking.
			u := e.register("Omar")
			m.QueueUser(&mockoidc.MockUser{Subject: "s-2", Email: u.Email, EmailVerified: true})
			q, verifier = e.providerSignIn()
			e.do("POST", "/auth/providers/exchange", map[string]string{"code": q.Get("code"), "code_verifier": verifier}, "").
				want(t, http.StatusConflict, domain.ReasonIdentityExists)
			challenge := strings.Repeat("c", 43)
			e.do("POST", "/auth/identities/mock/start", map[string]string{"redirect_to": "https://evil.example/", "code_challenge": challenge}, u.Token).
				want(t, http.StatusBadRequest, domain.ReasonRedirectNotAllowed)
			e.do("POST", "/auth/identities/nope/start", map[string]string{"redirect_to": providerApp, "code_challenge": challenge}, u.Token).
				want(t, http.StatusNotFound, domain.ReasonProviderNotFound)
			e.do("POST", "/auth/identities/mock/start", map[string]string{"redirect_to": providerApp}, u.Token).
				want(t, http.StatusUnprocessableEntity, "")
			e.do("POST", "/auth/identities/exchange", map[string]string{"code": "forged", "code_verifier": "v"}, u.Token).
				want(t, http.StatusBadRequest, domain.ReasonFederationCode)
			m.QueueUser(&mockoidc.MockUser{Subject: "s-2", Email: u.Email, EmailVerified: true})
			if got := e.providerLink(u.Token); got["provider"] != "mock" {
				t.Fatalf("link: %v", got)
			}
			ids = e.do("GET", "/auth/identities", nil, u.Token).want(t, http.StatusOK, "")["identities"].([]any)
			if len(ids) != 1 {
				t.Fatalf("identities: %v", ids)
			}
			id = strconv.FormatFloat(ids[0].(map[string]any)["id"].(float64), 'f', 0, 64)
			if r := e.do("DELETE", "/auth/identities/"+id, nil, u.Token); r.Status != http.StatusNoContent {
				t.Fatalf("unlink: %d %s", r.Status, r.Body)
			}
			// Pre-account hijacking: a squatter registers the owner's email
			// (unverified) and links their own provider account; the owner's
			// reset claims the account, and the squatter's link is gone.
			squat := e.register("Squat")
			m.QueueUser(&mockoidc.MockUser{Subject: "s-squat", Email: "squatter@evil.example", EmailVerified: true})
			e.providerLink(squat.Token)
			e.secret("The-owner-1s-back")
			e.do("POST", "/auth/reset-password", map[string]string{"token": e.requestReset(squat), "new_password": "The-owner-1s-back"}, "").
				want(t, http.StatusOK, "")
			m.QueueUser(&mockoidc.MockUser{Subject: "s-squat", Email: "squatter@evil.example", EmailVerified: true})
			q, verifier = e.providerSignIn()
			e.secret(q.Get("code"))
			tok = e.do("POST", "/auth/providers/exchange", map[string]string{"code": q.Get("code"), "code_verifier": verifier}, "").
				want(t, http.StatusOK, "")["access_token"].(string)
			e.secret(tok)
			if me := e.do("GET", "/auth/me", nil, tok).want(t, http.StatusOK, ""); me["username"] == "Squat" {
				t.Fatal("the squatter's provider account still signs in to the claimed account")
			}
			if me := e.do("GET", "/auth/me", nil, e.token("Squat", "The-owner-1s-back")).want(t, http.StatusOK, ""); me["email_verified"] != true {
				t.Errorf("after the reset the email is not verified: %v", me)
			}

			// The callback's refusals and the start's.
			req, _ := http.NewRequest(http.MethodGet, e.URL+"/auth/providers/mock/callback?state=forged&code=x", nil)
			if r := e.sendNoFollow(req); r.Status != http.StatusBadRequest {
				t.Fatalf("forged state: %d %s", r.Status, r.Body)
			}
			req, _ = http.NewRequest(http.MethodGet, e.URL+"/auth/providers/mock/start?redirect_to=https://evil.example/&code_challenge=x", nil)
			if r := e.sendNoFollow(req); r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("bad challenge: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestProviderEndpointsWithoutProviders: the list is empty, the rest 404.
func TestProviderEndpointsWithoutProviders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{})
	if ps := e.do("GET", "/auth/providers", nil, "").want(t, http.StatusOK, "")["providers"].([]any); len(ps) != 0 {
		t.Fatalf("providers: %v", ps)
	}
	u := e.register("Pia")
	if ids := e.do("GET", "/auth/identities", nil, u.Token).want(t, http.StatusOK, "")["identities"].([]any); len(ids) != 0 {
		t.Fatalf("identities: %v", ids)
	}
	e.do("POST", "/auth/providers/exchange", map[string]string{"code": "x", "code_verifier": "y"}, "").
		want(t, http.StatusNotFound, domain.ReasonProviderNotFound)
	e.do("DELETE", "/auth/identities/1", nil, u.Token).want(t, http.StatusNotFound, domain.ReasonIdentityNotFound)
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/auth/providers/mock/start?redirect_to=/x&code_challenge=x", nil)
	if r := e.sendNoFollow(req); r.Status != http.StatusNotFound {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
}
