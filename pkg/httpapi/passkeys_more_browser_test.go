package httpapi_test

import (
	"context"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// passkeyBrowser serves an env (passkeys on, sign-up allowed) on
// http://localhost:PORT and opens headless Chromium on path with a DevTools
// virtual authenticator (CTAP2, internal, resident keys, user
// verification); it returns the env, the browser and the authenticator.
func passkeyBrowser(t *testing.T, be storetest.Backend, path string) (*env, context.Context, webauthn.AuthenticatorID) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	origin := "http://localhost:" + port // WebAuthn needs a domain, not an IP
	e := newEnv(t, be.URL(t), envConfig{noServer: true, config: func(c *config.Config) {
		c.Auth.KeyEncryptionKey = testKEK
		c.WebAuthn.Enabled, c.WebAuthn.RPID, c.WebAuthn.RPName = true, "localhost", "authsvc test"
		c.WebAuthn.Origins = []string{origin}
		c.OIDC.AllowSignUp = true
	}})
	srv := httptest.NewUnstartedServer(e.Handler)
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	b := testkit.NewChrome(t, 90*time.Second)
	if err := chromedp.Do(b, chromedp.Navigate(origin+path)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Call(b, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatal(err)
	}
	return e, b, res.AuthenticatorID
}

// browserSteps runs named steps, failing with what the page's passkey
// status line says.
func browserSteps(t *testing.T, b context.Context, steps []browserStep) {
	t.Helper()
	for _, st := range steps {
		if err := chromedp.Do(b, st.do...); err != nil {
			status, _ := chromedp.Run(b, chromedp.Text(chromedp.ID("passkey-status")))
			t.Fatalf("%s: %v (page says %q)", st.name, err, status)
		}
	}
}

type browserStep struct {
	name string
	do   []chromedp.Action[chromedp.Void]
}

// TestPasskeySignUpRealBrowser: on the hosted sign-up page a person
// creates an account with a passkey and no password, signs out, and signs
// in with the passkey; on both databases.
func TestPasskeySignUpRealBrowser(t *testing.T) {
	t.Parallel()
	testkit.Chromium(t)
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e, b, _ := passkeyBrowser(t, be, "/signup")
			browserSteps(t, b, []browserStep{
				{"sign up with a passkey", []chromedp.Action[chromedp.Void]{
					chromedp.WaitVisible(chromedp.ID("passkey-signup")),
					chromedp.SendKeys(chromedp.ID("username"), "keyonly"),
					chromedp.SendKeys(chromedp.ID("email"), "keyonly@example.com"),
					chromedp.Click(chromedp.ID("passkey-signup")),
					chromedp.WaitVisible(chromedp.CSS(`ul.passkeys li.passkey-item`)),
				}},
				{"sign out", []chromedp.Action[chromedp.Void]{
					chromedp.Submit(chromedp.CSS(`form[action="/signout"] button`)),
				}},
			})
			if n := e.count(`SELECT COUNT(*) FROM users WHERE username = 'keyonly' AND password_hash = ''`); n != 1 {
				t.Fatalf("%d passkey-only accounts", n)
			}
			// Sign in with the passkey: its button, unless the username
			// field's autofill (answered at once) has signed in first.
			signedIn, last := false, ""
			for deadline := time.Now().Add(30 * time.Second); !signedIn && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
				state, err := chromedp.Run(b, chromedp.Evaluate[string](`(() => {
					const b = document.getElementById("passkey-signin");
					if (b && !b.hidden && !b.dataset.clicked) { b.dataset.clicked = "1"; b.click(); }
					return location.pathname + (document.querySelector('form[action="/signout"]') ? " signed-in" : "");
				})()`))
				signedIn, last = err == nil && state == "/account signed-in", state
			}
			if !signedIn {
				t.Fatalf("the passkey did not sign the browser in: %s", last)
			}
		})
	}
}

// TestPasskeyMFARealBrowser: an account with a password and TOTP adds a
// passkey on the account page; signing in again, after the password the
// second step's "Use a passkey" finishes the sign-in. (While the password
// is typed the authenticator answers nothing, so that the sign-in page's
// passkey autofill does not sign the account in first.)
func TestPasskeyMFARealBrowser(t *testing.T) {
	t.Parallel()
	testkit.Chromium(t)
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e, b, auth := passkeyBrowser(t, be, "/signin")
			u := e.register("twostep")
			secret, _ := e.enrol(u)
			browserSteps(t, b, []browserStep{
				{"sign in with the password and a code", []chromedp.Action[chromedp.Void]{
					chromedp.WaitVisible(chromedp.ID("username")),
					chromedp.SendKeys(chromedp.ID("username"), u.Name),
					chromedp.SendKeys(chromedp.ID("password"), u.Password),
					chromedp.Submit(chromedp.ID("password")),
					chromedp.WaitVisible(chromedp.ID("code")),
					chromedp.SendKeys(chromedp.ID("code"), e.code(secret, 0)),
					chromedp.Submit(chromedp.ID("code")),
					chromedp.WaitVisible(chromedp.ID("passkey-add")),
				}},
				{"add a passkey", []chromedp.Action[chromedp.Void]{
					chromedp.Click(chromedp.ID("passkey-add")),
					chromedp.WaitVisible(chromedp.CSS(`ul.passkeys li.passkey-item`)),
				}},
			})
			presence := func(on bool) {
				t.Helper()
				if _, err := chromedp.Call(b, webauthn.SetAutomaticPresenceSimulation,
					webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: auth, Enabled: on}); err != nil {
					t.Fatal(err)
				}
			}
			presence(false)
			browserSteps(t, b, []browserStep{
				{"sign out, sign in with the password", []chromedp.Action[chromedp.Void]{
					chromedp.Submit(chromedp.CSS(`form[action="/signout"] button`)),
					chromedp.WaitVisible(chromedp.ID("password")),
					chromedp.SendKeys(chromedp.ID("username"), u.Name),
					chromedp.SendKeys(chromedp.ID("password"), u.Password),
					chromedp.Submit(chromedp.ID("password")),
					chromedp.WaitVisible(chromedp.ID("passkey-mfa")),
				}},
			})
			presence(true)
			browserSteps(t, b, []browserStep{
				{"use the passkey as the second step", []chromedp.Action[chromedp.Void]{
					chromedp.Click(chromedp.ID("passkey-mfa")),
					chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"]`)),
				}},
			})
			if n := e.count(`SELECT COUNT(*) FROM audit_events WHERE event = 'login.succeeded' AND details LIKE ?`, `%"mfa":"webauthn"%`); n != 1 {
				t.Fatalf("%d sign-ins with a passkey as the second step in the audit trail, want 1", n)
			}
		})
	}
}
