package httpapi_test

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestPasskeysRealBrowser: in headless Chromium with a DevTools virtual
// authenticator (CTAP2, internal, resident keys, user verification), a
// user signs in with the password, adds a passkey on the account page,
// signs out, and signs in with the passkey and no password.
func TestPasskeysRealBrowser(t *testing.T) {
	t.Parallel()
	testkit.Chromium(t)
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
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
			}})
			srv := httptest.NewUnstartedServer(e.Handler)
			_ = srv.Listener.Close()
			srv.Listener = l
			srv.Start()
			t.Cleanup(srv.Close)
			e.URL = srv.URL
			u := e.register("passkeyuser")

			b := testkit.NewChrome(t, 90*time.Second)
			if err := chromedp.Do(b, chromedp.Navigate(origin+"/signin")); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(b, webauthn.Enable, webauthn.EnableParams{}); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(b, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
				Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
					Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
					IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name string
				do   []chromedp.Action[chromedp.Void]
			}{
				{"sign in with the password", []chromedp.Action[chromedp.Void]{
					chromedp.WaitVisible(chromedp.ID("username")),
					chromedp.SendKeys(chromedp.ID("username"), u.Name),
					chromedp.SendKeys(chromedp.ID("password"), u.Password),
					chromedp.Submit(chromedp.ID("password")),
					chromedp.WaitVisible(chromedp.ID("passkey-add")),
				}},
				{"add a passkey", []chromedp.Action[chromedp.Void]{
					chromedp.Click(chromedp.ID("passkey-add")),
					chromedp.WaitVisible(chromedp.CSS(`ul.passkeys li.passkey-item`)),
				}},
			}
			for _, st := range steps {
				if err := chromedp.Do(b, st.do...); err != nil {
					status, _ := chromedp.Run(b, chromedp.Text(chromedp.ID("passkey-status")))
					t.Fatalf("%s: %v (page says %q)", st.name, err, status)
				}
			}
			// Sign out, then sign in with the passkey: its button, unless the
			// username field's passkey autofill (conditional mediation, which
			// the virtual authenticator answers at once) has signed in first.
			if err := chromedp.Do(b, chromedp.Submit(chromedp.CSS(`form[action="/signout"] button`))); err != nil {
				t.Fatal(err)
			}
			signedIn, last := false, ""
			for deadline := time.Now().Add(30 * time.Second); !signedIn && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
				state, err := chromedp.Run(b, chromedp.Evaluate[string](`(() => {
					const b = document.getElementById("passkey-signin");
					if (b && !b.hidden && !b.dataset.clicked) { b.dataset.clicked = "1"; b.click(); }
					const s = document.getElementById("passkey-status");
					return location.pathname + (document.querySelector('form[action="/signout"]') ? " signed-in" : "") +
						(s && !s.hidden ? " [" + s.textContent + "]" : "");
				})()`))
				signedIn, last = err == nil && state == "/account signed-in", state
			}
			if !signedIn {
				t.Fatalf("the passkey did not sign the browser in: %s", last)
			}
			body, err := chromedp.Run(b, chromedp.Text(chromedp.CSS("main")))
			if err != nil || !strings.Contains(body, "Signed in as passkeyuser") || !strings.Contains(body, "Passkey") {
				t.Fatalf("after the passkey sign-in: %q %v", body, err)
			}
			var n int
			if err := e.SQL().Get(&n, e.SQL().Rebind(`SELECT COUNT(*) FROM audit_events WHERE event = ? AND details LIKE ?`),
				"login.succeeded", `%"passkey"%`); err != nil || n != 1 {
				t.Fatalf("%d passkey sign-ins in the audit trail (%v), want 1", n, err)
			}
		})
	}
}
