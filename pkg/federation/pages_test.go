package federation_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// page sends req in b (following redirects) and returns the final URL (or
// the redirect b stopped at), status and body.
func page(t testing.TB, b *http.Client, req *http.Request) (*url.URL, int, string) {
	t.Helper()
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if loc, err := resp.Location(); err == nil && resp.StatusCode/100 == 3 { // stopped at a redirect: where it pointed
		return loc, resp.StatusCode, string(body)
	}
	return resp.Request.URL, resp.StatusCode, string(body)
}

// submit posts the form of body (its hidden fields plus extra) to base+action,
// as the page's own origin, and follows the continue page if one answers.
func submit(t testing.TB, b *http.Client, base, action, body string, extra url.Values) (*url.URL, int, string) {
	t.Helper()
	form := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	for k, v := range extra {
		form[k] = v
	}
	req, _ := http.NewRequest(http.MethodPost, base+action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	u, status, out := page(t, b, req)
	if m := nextRe.FindStringSubmatch(out); m != nil {
		next, _ := http.NewRequest(http.MethodGet, html.UnescapeString(m[1]), nil)
		return page(t, b, next)
	}
	return u, status, out
}

func getPage(t testing.TB, b *http.Client, u string) (*url.URL, int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return page(t, b, req)
}

// TestHostedPagesSignInThroughAProvider: on the hosted sign-in page, the
// provider's button signs in (at the upstream authsvc's own page), also in
// the middle of an OpenID Connect request, whose ID token then says "fed".
// A code brought to another browser signs nobody in (login CSRF).
func TestHostedPagesSignInThroughAProvider(t *testing.T) {
	t.Parallel()
	l := listen(t)
	rpURL := strings.Replace("http://"+l.Addr().String(), "127.0.0.1", "localhost", 1)
	up := newUpstream(t, storetest.SQLiteURL(t), rpURL)
	s := newAuthsvc(t, l, storetest.SQLiteURL(t), asLocalhost, withProviders(up.provider()),
		func(c *config.Config) { c.OIDC.Enabled, c.OIDC.Issuer = true, c.Server.PublicURL })
	ctx := context.Background()
	if _, err := s.Stack.Keys.Generate(ctx, "RS256"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stack.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("the button, the upstream's page, back signed in", func(t *testing.T) {
		b := browser(t)
		_, status, body := getPage(t, b, s.URL+"/signin")
		if status != http.StatusOK || !strings.Contains(body, `value="corp" class="secondary">Continue with Corp</button>`) {
			t.Fatalf("sign-in page: %d %s", status, body)
		}
		at, status, body := submit(t, b, s.URL, "/signin/provider", body, url.Values{"provider": {"corp"}})
		if status != http.StatusOK || at.Host != strings.TrimPrefix(up.URL, "http://") {
			t.Fatalf("not at the upstream: %s %d", at, status)
		}
		at, status, body = submit(t, b, up.URL, "/signin", body, url.Values{"username": {"ursula"}, "password": {"correct horse ursula"}})
		if status != http.StatusOK || at.String() != s.URL+"/account" || !strings.Contains(body, "Signed in as <strong>ursula</strong>") {
			t.Fatalf("back at %s: %d %s", at, status, body)
		}
	})

	t.Run("the account page links and unlinks, never the last way in", func(t *testing.T) {
		up.register(t, "wanda")
		if _, _, err := s.Stack.Auth.Register(ctx, domain.Registration{Username: "victor", Email: "victor@example.com",
			Password: "correct horse victor"}); err != nil {
			t.Fatal(err)
		}
		b := browser(t)
		_, _, body := getPage(t, b, s.URL+"/signin")
		_, _, body = submit(t, b, s.URL, "/signin", body, url.Values{"username": {"victor"}, "password": {"correct horse victor"}})
		if !strings.Contains(body, "Linked accounts") || !strings.Contains(body, "Link Corp") {
			t.Fatalf("account page: %s", body)
		}
		_, _, body = submit(t, b, s.URL, "/account/identities/link", body, url.Values{"provider": {"corp"}})
		at, status, body := submit(t, b, up.URL, "/signin", body, url.Values{"username": {"wanda"}, "password": {"correct horse wanda"}})
		if status != http.StatusOK || at.Path != "/account" || !strings.Contains(body, domain.MsgPagesIdentityLinked) ||
			!strings.Contains(body, "<strong>corp</strong> wanda@corp.example") {
			t.Fatalf("after linking: %s %d %s", at, status, body)
		}
		id := regexp.MustCompile(`name="id" value="(\d+)"`).FindStringSubmatch(body)
		if id == nil {
			t.Fatalf("no unlink form: %s", body)
		}
		at, _, body = submit(t, b, s.URL, "/account/identities/unlink", body, url.Values{"id": {id[1]}})
		if at.Path != "/account" || !strings.Contains(body, domain.MsgPagesIdentityUnlinked) || strings.Contains(body, "wanda@corp.example") {
			t.Fatalf("after unlinking: %s %s", at, body)
		}
		// ursula's account was made by the provider: its only way in stays.
		ub := browser(t)
		_, _, body = getPage(t, ub, s.URL+"/signin")
		_, _, body = submit(t, ub, s.URL, "/signin/provider", body, url.Values{"provider": {"corp"}})
		_, _, body = submit(t, ub, up.URL, "/signin", body, url.Values{"username": {"ursula"}, "password": {"correct horse ursula"}})
		id = regexp.MustCompile(`name="id" value="(\d+)"`).FindStringSubmatch(body)
		if id == nil {
			t.Fatalf("no unlink form: %s", body)
		}
		at, _, body = submit(t, ub, s.URL, "/account/identities/unlink", body, url.Values{"id": {id[1]}})
		if at.Path != "/account" || !strings.Contains(body, html.EscapeString(domain.MsgLastSignInMethod)) || !strings.Contains(body, "ursula@corp.example") {
			t.Fatalf("unlinking the last way in: %s %s", at, body)
		}
	})

	t.Run("inside an OpenID Connect request: amr fed", func(t *testing.T) {
		client, err := s.Stack.Clients.Create(ctx, domain.NewOIDCClient{Name: "Wiki", FirstParty: true, RedirectURIs: []string{appCallback}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := gooidc.NewProvider(ctx, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		conf := oauth2.Config{ClientID: client.ID, ClientSecret: client.Secret, Endpoint: p.Endpoint(), RedirectURL: appCallback,
			Scopes: []string{gooidc.ScopeOpenID, "profile"}}
		verifier := oauth2.GenerateVerifier()
		b := browser(t)
		_, status, body := getPage(t, b, conf.AuthCodeURL("st", gooidc.Nonce("nn"), oauth2.S256ChallengeOption(verifier)))
		if status != http.StatusOK || !strings.Contains(body, "Continue with Corp") {
			t.Fatalf("sign-in page: %d %s", status, body)
		}
		_, _, body = submit(t, b, s.URL, "/signin/provider", body, url.Values{"provider": {"corp"}})
		// The upstream remembers ursula from the first subtest's browser
		// only; this one signs in again.
		at, status, body := submit(t, b, up.URL, "/signin", body, url.Values{"username": {"ursula"}, "password": {"correct horse ursula"}})
		if !strings.HasPrefix(at.String(), appCallback) || at.Query().Get("code") == "" {
			t.Fatalf("not back at the app: %s %d %s", at, status, body)
		}
		tok, err := conf.Exchange(ctx, at.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := p.Verifier(&gooidc.Config{ClientID: client.ID}).Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			AMR      []string `json:"amr"`
			Username string   `json:"preferred_username"`
		}
		if err := idt.Claims(&claims); err != nil || !slices.Equal(claims.AMR, []string{"fed"}) || claims.Username != "ursula" {
			t.Errorf("ID token %+v (%v), want ursula with amr [fed]", claims, err)
		}
	})

	t.Run("a refusal at the provider is shown in our words only", func(t *testing.T) {
		for reason, want := range map[string]string{"access_denied": domain.MsgProviderDenied,
			"identity_exists": domain.MsgIdentityExists, "<script>x</script>": domain.MsgProviderDenied} {
			_, status, body := getPage(t, browser(t), s.URL+"/signin/federated?"+url.Values{"error": {reason},
				"error_description": {"Injected text"}}.Encode())
			if status != http.StatusUnauthorized || !strings.Contains(body, html.EscapeString(want)) ||
				strings.Contains(body, "Injected text") || strings.Contains(body, "<script>x") {
				t.Errorf("error=%s: %d %s", reason, status, body)
			}
		}
	})

	t.Run("a code in another browser signs nobody in", func(t *testing.T) {
		// The attacker's own flow, stopped where the browser would go back
		// to the hosted page with the code.
		attacker := stopAt(t, s.URL+"/signin/federated")
		_, _, body := getPage(t, attacker, s.URL+"/signin")
		_, _, body = submit(t, attacker, s.URL, "/signin/provider", body, url.Values{"provider": {"corp"}})
		at, _, _ := submit(t, attacker, up.URL, "/signin", body, url.Values{"username": {"ursula"}, "password": {"correct horse ursula"}})
		planted := at.String()
		if !strings.HasPrefix(planted, s.URL+"/signin/federated?code=") {
			t.Fatalf("stopped at %q", planted)
		}
		victim := browser(t)
		at, status, body := getPage(t, victim, planted)
		if status != http.StatusBadRequest || strings.Contains(body, "Signed in as") || at.Path != "/signin/federated" {
			t.Errorf("the victim's browser: %s %d %s", at, status, body)
		}
		if at, _, body := getPage(t, victim, s.URL+"/account"); strings.Contains(body, "Signed in as") || at.Path != "/signin" {
			t.Errorf("the victim's browser is signed in: %s", at)
		}
	})
}
