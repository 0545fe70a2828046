package oidcprovider_test

import (
	"context"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestRoundTrips counts the statements PostgreSQL receives: a code
// exchange and a refresh at most 3 each, userinfo 1.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.PostgresURL(t))
	ctx := context.Background()
	u := e.user(t, "counted")
	app := newRP(t, e, e.client(t, domain.NewOIDCClient{FirstParty: true}))
	verifier, _ := pkce()
	code := app.authorize(t, e, browser(t), u, "s", "n", oauth2.S256ChallengeOption(verifier))
	count := func(name string, max int64, fn func() error) {
		t.Helper()
		before := e.Queries.Count()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := e.Queries.Count() - before; n > max {
			t.Errorf("%s sent %d statements, want at most %d", name, n, max)
		} else {
			t.Logf("%s: %d statements", name, n)
		}
	}
	var tok *oauth2.Token
	count("code exchange", 3, func() (err error) {
		tok, err = app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		return err
	})
	count("refresh", 3, func() (err error) {
		tok, err = app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		return err
	})
	count("userinfo", 1, func() error {
		_, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		return err
	})
	// A signed-in browser's silent sign-in to the app.
	b := browser(t)
	app.authorize(t, e, b, u, "s", "n", oauth2.S256ChallengeOption(verifier))
	count("silent single sign-on, authorize to tokens", silentSSOStatements, func() error {
		code := app.authorize(t, e, b, u, "s", "n", oauth2.S256ChallengeOption(verifier))
		_, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		return err
	})
}

// silentSSOStatements is what a silent sign-in sends (TestRoundTrips):
// authorize 2 (the client, the request), the sign-in page 4 (the session,
// the request and its client read once for the consent decision too, the
// sign-in recorded), the callback 3 (the request, the client, the code),
// the exchange 3.
const silentSSOStatements = 12

// BenchmarkSignIn compares, at bcrypt cost 10, a signed-in browser's
// silent single sign-on to a client (authorize → code → token, no
// password) with a password sign-in through the page for the same flow.
// The goal (docs/performance.md): silent ≥ 5× password.
func BenchmarkSignIn(b *testing.B) {
	e := newIDP(b, storetest.PostgresURL(b), func(c *config.Config) { c.Auth.BcryptCost = 10 })
	ctx := context.Background()
	u := e.user(b, "bench")
	app := newRP(b, e, e.client(b, domain.NewOIDCClient{FirstParty: true}), "openid")
	verifier, _ := pkce()
	flow := func(br *http.Client) {
		code := app.authorize(b, e, br, u, "s", "n", oauth2.S256ChallengeOption(verifier))
		if _, err := app.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("silent_sso", func(b *testing.B) {
		br := browser(b)
		flow(br) // signs the browser in once
		b.ResetTimer()
		for b.Loop() {
			flow(br)
		}
	})
	b.Run("password", func(b *testing.B) {
		for b.Loop() {
			flow(browser(b))
		}
	})
}
