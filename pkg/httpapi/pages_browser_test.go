package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestPagesRealBrowser signs a TOTP-enrolled user in through the pages in
// headless Chromium (password, then the code), checks the signed-in page,
// and signs out.
func TestPagesRealBrowser(t *testing.T) {
	t.Parallel()
	testkit.Chromium(t)
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, be.URL(t), envConfig{config: func(c *config.Config) { c.Auth.KeyEncryptionKey = testKEK }})
			u := e.register("browseruser")
			secret, _ := e.enrol(u)
			ctx := testkit.NewChrome(t, 90*time.Second)
			steps := []chromedp.Action[chromedp.Void]{
				chromedp.Navigate(e.URL + "/signin"),
				chromedp.WaitVisible(chromedp.ID("username")),
				chromedp.SendKeys(chromedp.ID("username"), u.Name),
				chromedp.SendKeys(chromedp.ID("password"), u.Password),
				chromedp.Submit(chromedp.ID("password")),
				chromedp.WaitVisible(chromedp.CSS("#code")),
			}
			for i, st := range steps {

				if err := chromedp.Do(ctx, st); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
			if err != nil || heading != "Two-step verification" {
				t.Fatalf("after the password: %q %v", heading, err)
			}
			e.nextStep()
			err = chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.ID("code"), e.code(secret, 0)),
				chromedp.Submit(chromedp.ID("code")),
				chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"]`)),
			)
			if err != nil {
				t.Fatal(err)
			}
			body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			if err != nil || !strings.Contains(body, "Signed in as browseruser") {
				t.Fatalf("signed-in page: %q %v", body, err)
			}
			err = chromedp.Do(ctx,
				chromedp.Submit(chromedp.CSS(`form[action="/signout"] button`)),
				chromedp.WaitVisible(chromedp.ID("username")),
				chromedp.Navigate(e.URL+"/account"),
				chromedp.WaitVisible(chromedp.ID("username")), // sent back to sign in
			)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil || !strings.HasSuffix(loc, "/signin") {
				t.Fatalf("after sign out, /account shows %q %v", loc, err)
			}
		})
	}
}
