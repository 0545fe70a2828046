package federation_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// newMockWith runs mockoidc with a middleware in front of its endpoints:
// a provider that misbehaves in the one way mw makes it.
func newMockWith(t testing.TB, mw func(m *mockoidc.MockOIDC, next http.Handler) http.Handler) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddMiddleware(func(next http.Handler) http.Handler { return mw(m, next) }); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(listen(t), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// replaceParam rewrites one parameter of r's query and form body.
func replaceParam(r *http.Request, name string, with func(string) string) {
	q := r.URL.Query()
	if q.Has(name) {
		q.Set(name, with(q.Get(name)))
		r.URL.RawQuery = q.Encode()
	}
	if r.Method == http.MethodPost && r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(b))
		if err == nil && form.Has(name) {
			form.Set(name, with(form.Get(name)))
			b = []byte(form.Encode())
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
}

// stopAt is a client that stops at the first redirect whose URL has
// prefix (returning it), and at the app.
func stopAt(t testing.TB, prefix string) *http.Client {
	c := browser(t)
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), prefix) || strings.HasPrefix(req.URL.String(), "http://127.0.0.1:1/") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return c
}

// redirectOf gets u with c and returns the Location it stopped at.
func redirectOf(t testing.TB, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 3 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// getStatus is GET u without following redirects: its status and body.
func getStatus(t testing.TB, u string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRefusals: every check of the flow refuses what it must, with a clear
// error and nothing linked or signed in.
func TestRefusals(t *testing.T) {
	t.Parallel()
	good := newMock(t)
	forgedNonce := newMockWith(t, func(_ *mockoidc.MockOIDC, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/authorize") {
				replaceParam(r, "nonce", func(string) string { return "a-nonce-of-another-sign-in" })
			}
			next.ServeHTTP(w, r)
		})
	})
	// Issues its tokens for its own client id while authsvc is configured
	// as "another-app": an ID token for another audience.
	otherAudience := newMockWith(t, func(m *mockoidc.MockOIDC, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			replaceParam(r, "client_id", func(string) string { return m.ClientID })
			next.ServeHTTP(w, r)
		})
	})
	expired := newMock(t)
	expired.FastForward(-3 * time.Hour) // its tokens expired long ago
	noCreate, domains := newMock(t), newMock(t)

	provider := func(m *mockoidc.MockOIDC, name string, tune ...func(*config.IdentityProviderConfig)) config.IdentityProviderConfig {
		p := mockProvider(m)
		p.Name, p.Label = name, name
		for _, f := range tune {
			f(&p)
		}
		return p
	}
	no := false
	down := listen(t) // a provider that is down: nothing answers
	downURL := "http://" + down.Addr().String()
	_ = down.Close()
	s := newAuthsvc(t, listen(t), storetest.SQLiteURL(t), withProviders(
		provider(good, "good"),
		provider(forgedNonce, "nonce"),
		provider(otherAudience, "audience", func(p *config.IdentityProviderConfig) { p.ClientID = "another-app" }),
		provider(expired, "expired"),
		provider(noCreate, "nocreate", func(p *config.IdentityProviderConfig) { p.AutoCreate = &no }),
		provider(domains, "corp", func(p *config.IdentityProviderConfig) { p.AllowedEmailDomains = []string{"corp.example"} }),
		config.IdentityProviderConfig{Name: "down", Kind: domain.ProviderOIDC, Label: "Down", Issuer: downURL, ClientID: "x", ClientSecret: "y"},
	))
	_, challenge := pkce()
	callback := s.URL + "/auth/providers/good/callback"

	t.Run("an unknown state", func(t *testing.T) {
		if status, raw := getStatus(t, callback+"?state=forged&code=x"); status != http.StatusBadRequest || reason(raw) != "invalid_state" {
			t.Errorf("callback: %d %s, want 400 invalid_state", status, raw)
		}
		if status, raw := getStatus(t, callback+"?code=x"); status != http.StatusBadRequest || reason(raw) != "invalid_state" {
			t.Errorf("callback without state: %d %s, want 400 invalid_state", status, raw)
		}
	})
	t.Run("a state used twice, and concurrently", func(t *testing.T) {
		cb := redirectOf(t, stopAt(t, callback), s.startURL("good", appCallback, challenge))
		if !strings.HasPrefix(cb, callback) {
			t.Fatalf("stopped at %q", cb)
		}
		statuses := race(6, func() int { st, _ := getStatus(t, cb); return st })
		if count(statuses, http.StatusFound) != 1 || count(statuses, http.StatusBadRequest) != 5 {
			t.Errorf("concurrent callbacks: %v, want one 302 and five 400", statuses)
		}
		if status, raw := getStatus(t, cb); status != http.StatusBadRequest || reason(raw) != "invalid_state" {
			t.Errorf("the state again: %d %s, want 400 invalid_state", status, raw)
		}
	})
	t.Run("a state of another provider", func(t *testing.T) {
		cb := redirectOf(t, stopAt(t, callback), s.startURL("good", appCallback, challenge))
		other := strings.Replace(cb, "/auth/providers/good/", "/auth/providers/nonce/", 1)
		if status, raw := getStatus(t, other); status != http.StatusBadRequest || reason(raw) != "invalid_state" {
			t.Errorf("callback: %d %s, want 400 invalid_state", status, raw)
		}
	})
	t.Run("the ID token's checks", func(t *testing.T) {
		for _, name := range []string{"nonce", "audience", "expired"} {
			q := arrive(t, browser(t), s.startURL(name, appCallback, challenge))
			if q.Get("error") != "provider_error" || q.Get("code") != "" {
				t.Errorf("%s: the app got %v, want error=provider_error and no code", name, q)
			}
		}
		logs := s.logs.String()
		for _, want := range []string{"nonce is not this sign-in's", "expected audience", "token is expired"} {
			if !strings.Contains(logs, want) {
				t.Errorf("the log does not say %q", want)
			}
		}
	})
	t.Run("the person refused at the provider", func(t *testing.T) {
		authorize := redirectOf(t, stopAt(t, good.Issuer()), s.startURL("good", appCallback, challenge))
		u, _ := url.Parse(authorize)
		q := arrive(t, browser(t), callback+"?"+url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}.Encode())
		if q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("the app got %v, want error=access_denied", q)
		}
	})
	t.Run("redirect_to off the allow-list", func(t *testing.T) {
		for _, to := range []string{"https://evil.example/app/callback", "//evil.example/x", "/\\evil.example", "/%zz", appCallback + "/more",
			"http://127.0.0.1:1/app/callback#frag", "http://user@127.0.0.1:1/app/callback", ""} {
			status, raw := getStatus(t, s.startURL("good", to, challenge))
			if status != http.StatusBadRequest || reason(raw) != "redirect_not_allowed" {
				t.Errorf("redirect_to %q: %d %s, want 400 redirect_not_allowed", to, status, raw)
			}
		}
	})
	t.Run("a start without a PKCE challenge", func(t *testing.T) {
		for _, c := range []string{"", "short", strings.Repeat("!", 43)} {
			if status, raw := getStatus(t, s.startURL("good", appCallback, c)); status != http.StatusUnprocessableEntity {
				t.Errorf("code_challenge %q: %d %s, want 422", c, status, raw)
			}
		}
	})
	t.Run("an unknown provider", func(t *testing.T) {
		if status, raw := getStatus(t, s.startURL("nope", appCallback, challenge)); status != http.StatusNotFound ||
			reason(raw) != "provider_not_found" {
			t.Errorf("start: %d %s, want 404 provider_not_found", status, raw)
		}
	})
	t.Run("a provider that is down fails its own sign-ins only", func(t *testing.T) {
		if status, raw := getStatus(t, s.startURL("down", appCallback, challenge)); status != http.StatusServiceUnavailable ||
			reason(raw) != "provider_unavailable" {
			t.Errorf("start: %d %s, want 503 provider_unavailable", status, raw)
		}
		good.QueueUser(&mockoidc.MockUser{Subject: "sub-ok", Email: "ok@example.com", EmailVerified: true})
		code, verifier := s.signIn(t, "good")
		if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusOK {
			t.Errorf("the other provider: %d %s", status, raw)
		}
	})
	t.Run("auto_create off: no account is made", func(t *testing.T) {
		noCreate.QueueUser(&mockoidc.MockUser{Subject: "sub-new", Email: "new@example.com", EmailVerified: true})
		code, verifier := s.signIn(t, "nocreate")
		if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusForbidden || reason(raw) != "signup_disabled" {
			t.Errorf("exchange: %d %s, want 403 signup_disabled", status, raw)
		}
	})
	t.Run("an email the provider has not verified makes no account", func(t *testing.T) {
		good.QueueUser(&mockoidc.MockUser{Subject: "sub-unverified", Email: "nobody-proved-this@example.com", EmailVerified: false})
		code, verifier := s.signIn(t, "good")
		if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusForbidden || reason(raw) != "provider_email_unverified" {
			t.Errorf("exchange: %d %s, want 403 provider_email_unverified", status, raw)
		}
		if _, err := s.Stack.Auth.UserByUsername(context.Background(), "nobody-proved-this"); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("an account was made: %v", err)
		}
	})
	t.Run("a malformed email is as none; an ID token without sub is refused", func(t *testing.T) {
		good.QueueUser(&mockoidc.MockUser{Subject: "sub-bad-email", Email: "not an address", EmailVerified: true})
		code, verifier := s.signIn(t, "good")
		if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusForbidden || reason(raw) != "provider_email_missing" {
			t.Errorf("exchange: %d %s, want 403 provider_email_missing", status, raw)
		}
		good.QueueUser(&mockoidc.MockUser{Subject: "", Email: "nosub@example.com", EmailVerified: true})
		if q := arrive(t, browser(t), s.startURL("good", appCallback, challenge)); q.Get("error") != "provider_error" ||
			!strings.Contains(s.logs.String(), "id token: no sub") {
			t.Errorf("no sub: the app got %v, want error=provider_error (and the log to say so)", q)
		}
	})
	t.Run("allowed_email_domains", func(t *testing.T) {
		for _, u := range []*mockoidc.MockUser{
			{Subject: "sub-out", Email: "someone@example.com", EmailVerified: true},
			{Subject: "sub-unverified", Email: "someone@corp.example", EmailVerified: false},
		} {
			domains.QueueUser(u)
			code, verifier := s.signIn(t, "corp")
			if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusForbidden || reason(raw) != "email_domain_not_allowed" {
				t.Errorf("%s: %d %s, want 403 email_domain_not_allowed", u.Email, status, raw)
			}
		}
		domains.QueueUser(&mockoidc.MockUser{Subject: "sub-in", Email: "someone@corp.example", EmailVerified: true})
		code, verifier := s.signIn(t, "corp")
		if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusOK {
			t.Errorf("someone@corp.example: %d %s", status, raw)
		}
	})
}
