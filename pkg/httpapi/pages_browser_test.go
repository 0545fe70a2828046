package httpapi_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// chromium returns the path of a Chromium to drive, or skips the test
// (fails it under AUTHSVC_TEST_REQUIRE_BROWSER=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH: install it (Debian: apt-get install chromium) to run the real-browser test"
	if os.Getenv("AUTHSVC_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newChrome starts a headless Chromium of the test's own, bounded by a
// timeout, and returns its context.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// TestPagesRealBrowser signs a TOTP-enrolled user in through the pages in
// headless Chromium (password, then the code), checks the signed-in page,
// and signs out.
func TestPagesRealBrowser(t *testing.T) {
	t.Parallel()
	chromium(t)
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, be.URL(t), envConfig{config: func(c *config.Config) { c.Auth.KeyEncryptionKey = testKEK }})
			u := e.register("browseruser")
			secret, _ := e.enrol(u)
			ctx := newChrome(t)
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
