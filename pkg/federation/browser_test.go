package federation_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestProviderButtonRealBrowser: in headless Chromium, press the provider's
// button on the hosted sign-in page, sign in at the upstream provider's own
// page (a second authsvc), and arrive back signed in. The authsvc signing
// in runs on PostgreSQL, the upstream on SQLite.
func TestProviderButtonRealBrowser(t *testing.T) {
	t.Parallel()
	testkit.Chromium(t)
	l := listen(t)
	rpURL := strings.Replace("http://"+l.Addr().String(), "127.0.0.1", "localhost", 1)
	up := newUpstream(t, storetest.SQLiteURL(t), rpURL)
	s := newAuthsvc(t, l, storetest.PostgresURL(t), asLocalhost, withProviders(up.provider()))

	b := testkit.NewChrome(t, 90*time.Second)
	steps := []struct {
		name string
		do   []chromedp.Action[chromedp.Void]
	}{
		{"the hosted sign-in page offers the provider", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(s.URL + "/signin"),
			chromedp.WaitVisible(chromedp.CSS(`button[value="corp"]`)),
			chromedp.Click(chromedp.CSS(`button[value="corp"]`)),
		}},
		{"the upstream's own sign-in page", []chromedp.Action[chromedp.Void]{
			// The first page has a #username too: wait until it is gone.
			chromedp.WaitNotPresent(chromedp.CSS(`button[value="corp"]`)),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/signin"] #username`)),
			chromedp.SendKeys(chromedp.ID("username"), "ursula"),
			chromedp.SendKeys(chromedp.ID("password"), "correct horse ursula"),
			chromedp.Submit(chromedp.ID("password")),
		}},
		{"back at the hosted pages, signed in", []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.CSS(`main strong`)),
		}},
	}
	for _, st := range steps {
		if err := chromedp.Do(b, st.do...); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	who, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(`main strong`)))
	if err != nil || who != "ursula" {
		t.Fatalf("the account page shows %q (%v), want ursula", who, err)
	}
	at, err := chromedp.Run(b, chromedp.Location())
	if err != nil || at != s.URL+"/account" {
		t.Fatalf("the browser is at %q (%v), want %s/account", at, err, s.URL)
	}
}
