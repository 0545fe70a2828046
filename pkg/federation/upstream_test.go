package federation_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// upstream is a second authsvc acting as the OpenID provider, with a user
// and a first-party client for the authsvc that signs in through it.
type upstream struct {
	*authsvc
	clientID, secret string
}

// newUpstream builds authsvc with its OpenID Connect provider on (an RS256
// key; a client whose redirect URI is rpURL's callback for provider "corp")
// and the user ursula.
func newUpstream(t testing.TB, dbURL, rpURL string) *upstream {
	t.Helper()
	l := listen(t)
	issuer := "http://" + l.Addr().String()
	u := &upstream{authsvc: newAuthsvc(t, l, dbURL, func(c *config.Config) { c.OIDC.Enabled, c.OIDC.Issuer = true, issuer })}
	ctx := context.Background()
	if _, err := u.Stack.Keys.Generate(ctx, "RS256"); err != nil {
		t.Fatal(err)
	}
	if err := u.Stack.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := u.Stack.Clients.Create(ctx, domain.NewOIDCClient{Name: "Intranet", FirstParty: true,
		RedirectURIs: []string{rpURL + "/auth/providers/corp/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	u.clientID, u.secret = c.ID, c.Secret
	u.register(t, "ursula")
	return u
}

// register makes a user of the upstream with a verified email
// (<name>@corp.example), whose ID tokens then say email_verified.
func (u *upstream) register(t testing.TB, name string) {
	t.Helper()
	if _, _, err := u.Stack.Auth.Register(context.Background(), domain.Registration{Username: name, Email: name + "@corp.example",
		Password: "correct horse " + name}); err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLFor(t, u.dbURL)
	if _, err := db.Exec(db.Rebind(`UPDATE users SET email_verified_at = ? WHERE username = ?`), time.Now().UTC(), name); err != nil {
		t.Fatal(err)
	}
}

func (u *upstream) provider() config.IdentityProviderConfig {
	return config.IdentityProviderConfig{Name: "corp", Kind: domain.ProviderOIDC, Label: "Corp", Issuer: u.URL,
		ClientID: u.clientID, ClientSecret: u.secret}
}

var (
	hiddenRe = regexp.MustCompile(`name="(csrf|request)" value="([^"]*)"`)
	nextRe   = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]*)">`)
)

// signInAtUpstream follows start in b to the upstream's sign-in page, posts
// ursula's password and follows on to the app; it returns the app's query.
func signInAtUpstream(t testing.TB, b *http.Client, u *upstream, start string) url.Values {
	t.Helper()
	resp, err := b.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `action="/signin"`) {
		t.Fatalf("not the upstream's sign-in page: %d %s", resp.StatusCode, page)
	}
	form := url.Values{"username": {"ursula"}, "password": {"correct horse ursula"}}
	for _, m := range hiddenRe.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	req, _ := http.NewRequest(http.MethodPost, u.URL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.URL)
	resp, err = b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	m := nextRe.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("after the password: %d %s", resp.StatusCode, page)
	}
	return arrive(t, b, html.UnescapeString(m[1]))
}

// TestSignInThroughAnotherAuthsvc: a second authsvc is the provider (its
// hosted sign-in page, its ID tokens and JWKS), on both databases.
func TestSignInThroughAnotherAuthsvc(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			l := listen(t)
			rpURL := strings.Replace("http://"+l.Addr().String(), "127.0.0.1", "localhost", 1)
			up := newUpstream(t, be.URL(t), rpURL)
			s := newAuthsvc(t, l, be.URL(t), asLocalhost, withProviders(up.provider()))

			verifier, challenge := pkce()
			q := signInAtUpstream(t, browser(t), up, s.startURL("corp", appCallback, challenge))
			status, raw, tok := s.exchange(t, q.Get("code"), verifier)
			if status != http.StatusOK {
				t.Fatalf("exchange: %d %s", status, raw)
			}
			if name, email := s.me(t, tok.AccessToken); name != "ursula" || email != "ursula@corp.example" {
				t.Errorf("account %q %q, want ursula", name, email)
			}
			// The upstream verified ursula's email: so is the new account's;
			// it has no password.
			u, err := s.Stack.Auth.UserByUsername(context.Background(), "ursula")
			if err != nil || !u.EmailVerified() || u.HasPassword() {
				t.Errorf("ursula: %+v %v; want a verified email and no password", u, err)
			}
		})
	}
}
