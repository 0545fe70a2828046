package oidcprovider_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestAccountPages: sign up during an app's sign-in, sign in with an email
// address, list and revoke an app's consent, and reset a forgotten
// password through the link the mail carries (mail.frontend_url pointing
// at authsvc itself).
func TestAccountPages(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.SQLiteURL(t), func(c *config.Config) { c.OIDC.AllowSignUp = true })
	ctx := context.Background()
	app := newRP(t, e, e.client(t, domain.NewOIDCClient{Name: "Photo app"}))
	verifier, _ := pkce()

	// Sign up in the middle of the app's request, then consent.
	b := browser(t)
	pg := get(t, b, app.conf.AuthCodeURL("s1", gooidc.Nonce("n1"), oauth2.S256ChallengeOption(verifier)))
	if !strings.Contains(pg.body, `href="/signup?request=`) {
		t.Fatalf("the sign-in page offers no sign-up: %s", pg.body)
	}
	pg = get(t, b, e.URL+"/signup?request="+url.QueryEscape(pg.fields.Get("request")))
	pg = post(t, b, e.URL, "/signup", pg, url.Values{"username": {"frank"}, "email": {"Frank@Example.com"},
		"password": {"a long enough passphrase"}})
	if pg.heading != "Allow access?" {
		t.Fatalf("after sign-up: %d %q", pg.status, pg.body)
	}
	pg = post(t, b, e.URL, "/consent", pg, url.Values{"decision": {"allow"}})
	if pg.loc == nil || pg.loc.Query().Get("code") == "" {
		t.Fatalf("after consent: %d %v", pg.status, pg.loc)
	}
	tok, err := app.conf.Exchange(ctx, pg.loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}

	// The account page lists the app; revoking ends its grant and the next
	// sign-in to it asks again.
	pg = get(t, b, e.URL+"/account")
	if !strings.Contains(pg.body, "Photo app") {
		t.Fatalf("the account page does not list the app: %s", pg.body)
	}
	pg = post(t, b, e.URL, "/account/consents/revoke", pg, url.Values{"client_id": {app.conf.ClientID}})
	if strings.Contains(pg.body, "Photo app") || !strings.Contains(pg.body, html.EscapeString(domain.MsgPagesConsentRevoked)) {
		t.Fatalf("after revoking: %s", pg.body)
	}
	if _, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); oauthError(err) != "invalid_grant" {
		t.Fatalf("the app's refresh token after its consent was revoked: %v", err)
	}
	if pg = get(t, b, app.conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier))); pg.heading != "Allow access?" {
		t.Fatalf("after revoking, the app's next sign-in: %d %q", pg.status, pg.heading)
	}

	// Forgot the password: the mail's link opens the reset page here.
	b = browser(t)
	pg = get(t, b, e.URL+"/forgot")
	pg = post(t, b, e.URL, "/forgot", pg, url.Values{"email": {"frank@example.com"}})
	if pg.heading != "Check your email" {
		t.Fatalf("forgot: %d %q", pg.status, pg.body)
	}
	e.Stack.Auth.Wait()
	var data string
	if err := storetest.SQLFor(t, e.dbURL).Get(&data, `SELECT data FROM email_outbox WHERE kind = 'password_reset'`); err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	_ = json.Unmarshal([]byte(data), &m)
	if !strings.HasPrefix(m["link"], e.URL+"/reset-password?token=") {
		t.Fatalf("reset link %q", m["link"])
	}
	pg = get(t, b, m["link"])
	if pg.heading != "Choose a new password" {
		t.Fatalf("reset page: %d %q", pg.status, pg.body)
	}
	link, _ := url.Parse(m["link"])
	pg.fields.Set("token", link.Query().Get("token"))
	if got := post(t, b, e.URL, "/reset-password", pg, url.Values{"new_password": {"short"}}); got.status != http.StatusUnprocessableEntity {
		t.Fatalf("a too-short password: %d", got.status)
	}
	if got := post(t, b, e.URL, "/reset-password", pg, url.Values{"new_password": {"another long passphrase"}}); got.heading != "Password changed" {
		t.Fatalf("reset: %d %q", got.status, got.body)
	}
	// Sign in with the email address and the new password.
	pg = get(t, b, e.URL+"/signin")
	pg = post(t, b, e.URL, "/signin", pg, url.Values{"username": {"FRANK@example.com"}, "password": {"another long passphrase"}})
	if pg.heading != "Signed in" {
		t.Fatalf("sign-in by email: %d %q", pg.status, pg.body)
	}
}

// TestSignUpOff: without oidc.allow_sign_up there is no sign-up page.
func TestSignUpOff(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.SQLiteURL(t))
	b := browser(t)
	if pg := get(t, b, e.URL+"/signin"); strings.Contains(pg.body, "/signup") {
		t.Fatal("the sign-in page offers sign-up")
	}
	if pg := get(t, b, e.URL+"/signup"); pg.status != http.StatusNotFound {
		t.Fatalf("GET /signup: %d", pg.status)
	}
}

// TestSessionLifetime: a browser signed in longer ago than
// oidc.session_lifetime is asked for the password again by the next app;
// within it (and with the default lifetime, after the same time) it signs
// in silently.
func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		lifetime   time.Duration
		wantSilent bool
	}{{2 * time.Minute, false}, {24 * time.Hour, true}} {
		t.Run(c.lifetime.String(), func(t *testing.T) {
			t.Parallel()
			e := newIDP(t, storetest.SQLiteURL(t), func(conf *config.Config) { conf.OIDC.SessionLifetime = c.lifetime })
			u := e.user(t, "sessions")
			app := newRP(t, e, e.client(t, domain.NewOIDCClient{FirstParty: true}))
			b := browser(t)
			verifier, _ := pkce()
			app.authorize(t, e, b, u, "s1", "n1", oauth2.S256ChallengeOption(verifier))
			if pg := get(t, b, app.conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier))); pg.loc == nil {
				t.Fatalf("right after the sign-in: %d %q, want a silent sign-in", pg.status, pg.heading)
			}
			e.advance(3 * time.Minute) // within the API token's lifetime (15m): only the session lifetime can end it
			pg := get(t, b, app.conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier)))
			if silent := pg.loc != nil && pg.loc.Query().Get("code") != ""; silent != c.wantSilent {
				t.Fatalf("3 minutes later: %d %q (silent %v), want silent %v", pg.status, pg.heading, silent, c.wantSilent)
			}
			if !c.wantSilent && pg.heading != "Sign in" {
				t.Fatalf("3 minutes later: %d %q, want the sign-in page", pg.status, pg.heading)
			}
		})
	}
}

// TestDeniedRequestEnds: after "deny" on the consent page the app gets
// access_denied, and the request is over: allowing it afterwards (a second
// tab, a replayed form) gives no code.
func TestDeniedRequestEnds(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.SQLiteURL(t))
	u := e.user(t, "dana")
	app := newRP(t, e, e.client(t, domain.NewOIDCClient{Name: "Third-party app"}))
	verifier, _ := pkce()
	b := browser(t)
	pg := get(t, b, app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	pg = post(t, b, e.URL, "/signin", pg, url.Values{"username": {u.Username}, "password": {password(u)}})
	if pg.heading != "Allow access?" {
		t.Fatalf("not the consent page: %d %q", pg.status, pg.body)
	}
	consent := pg
	// The answer is the continue page towards the app (nothing listens there).
	next := func(pg *page) *url.URL {
		m := nextRe.FindStringSubmatch(pg.body)
		if m == nil {
			return pg.loc
		}
		u, _ := url.Parse(html.UnescapeString(m[1]))
		return u
	}
	denied := next(postOnly(t, b, e.URL, "/consent", consent, url.Values{"decision": {"deny"}}))
	if denied == nil || denied.Query().Get("error") != "access_denied" || denied.Query().Get("state") != "st" {
		t.Fatalf("deny: %v", denied)
	}
	pg = postOnly(t, b, e.URL, "/consent", consent, url.Values{"decision": {"allow"}})
	if to := next(pg); to != nil && to.Query().Get("code") != "" {
		t.Fatalf("the denied request still gave a code: %v", to)
	}
	if pg.status < 400 {
		t.Errorf("allowing a denied request: %d %s, want an error page", pg.status, pg.body)
	}
}

// TestJanitorPrunesAtStart: the provider's janitor prunes expired requests
// when it starts, not only after its first interval.
func TestJanitorPrunesAtStart(t *testing.T) {
	t.Parallel()
	e := newIDP(t, storetest.SQLiteURL(t))
	app := newRP(t, e, e.client(t, domain.NewOIDCClient{Name: "App"}))
	verifier, _ := pkce()
	if pg := get(t, browser(t), app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))); pg.heading != "Sign in" {
		t.Fatalf("authorize: %d %q", pg.status, pg.body)
	}
	db := storetest.SQLFor(t, e.dbURL)
	count := func() (n int) {
		if err := db.Get(&n, `SELECT COUNT(*) FROM oidc_requests`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count() != 1 {
		t.Fatalf("%d requests stored, want 1", count())
	}
	e.advance(time.Hour) // past oidc.request_lifetime
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Stack.OIDC.RunJanitor(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for count() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := count(); n != 0 {
		t.Fatalf("%d expired requests left after the janitor started", n)
	}
}
