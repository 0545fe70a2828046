package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// browser is a cookie-keeping client of the hosted pages that does not
// follow redirects (tests look at each hop).
type browser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string
	base string // the pages' URL (e.URL unless a test serves them itself)
}

func newBrowser(t *testing.T, e *env) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, e: e, base: e.URL, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var mfaField = regexp.MustCompile(`name="mfa_token" value="([^"]+)"`)

// get fetches a page and remembers its form token.
func (b *browser) get(path string) *response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.send(req)
}

// post posts a form with the page's token (unless vals sets csrf).
func (b *browser) post(path string, vals url.Values, hdr ...string) *response {
	b.t.Helper()
	if _, ok := vals["csrf"]; !ok {
		vals.Set("csrf", b.csrf)
	}
	for _, k := range []string{"password", "code"} {
		b.e.secret(vals.Get(k))
	}
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.send(req)
}

func (b *browser) send(req *http.Request) *response {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	b.e.checkResponse(data)
	if m := csrfField.FindSubmatch(data); m != nil {
		b.csrf = string(m[1])
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// session returns the browser's session cookie value ("" when none).
func (b *browser) session() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "authsvc_session" {
			b.e.secret(c.Value)
			return c.Value
		}
	}
	return ""
}

// signIn signs u in through the page and checks it lands on /account.
func (b *browser) signIn(u *user) {
	b.t.Helper()
	b.get("/signin")
	r := b.post("/signin", url.Values{"username": {u.Name}, "password": {u.Password}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
		b.t.Fatalf("sign in: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
}

func wantStatus(t *testing.T, r *response, status int, contains string) {
	t.Helper()
	if r.Status != status || !strings.Contains(string(r.Body), contains) {
		t.Fatalf("got %d, want %d with %q: %s", r.Status, status, contains, r.Body)
	}
}

func TestPagesSignInAndOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		u := e.register("pageuser")
		b := newBrowser(t, e)
		r := b.get("/signin")
		wantStatus(t, r, http.StatusOK, `action="/signin"`)
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'", "style-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-") {
			t.Errorf("CSP %q allows script other than the pages' own file", csp)
		}
		if strings.Contains(strings.ReplaceAll(string(r.Body), `<script src="/pages/passkey.js" defer></script>`, ""), "<script") {
			t.Errorf("a page has inline script")
		}
		if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("Referrer-Policy %q", got)
		}
		if strings.Contains(string(r.Body), "<script") {
			t.Error("page carries a script")
		}
		b.signIn(u)
		tok := b.session()
		if tok == "" {
			t.Fatal("no session cookie")
		}
		wantStatus(t, b.get("/account"), http.StatusOK, "pageuser")
		// The session is a sessions row: listed, and the cookie's token works on the API.
		if e.me(tok) != http.StatusOK {
			t.Fatal("the browser session's token is refused by the API")
		}
		sessions := e.do("GET", "/auth/sessions", nil, u.Token).want(t, http.StatusOK, "")
		if n := len(sessions["sessions"].([]any)); n != 2 { // the registration's and the browser's
			t.Fatalf("%d sessions listed, want 2: %v", n, sessions)
		}
		// GET /signout only asks; the post ends the session.
		wantStatus(t, b.get("/signout"), http.StatusOK, `action="/signout"`)
		if e.me(tok) != http.StatusOK {
			t.Fatal("GET /signout signed out")
		}
		r = b.post("/signout", url.Values{})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/signin" {
			t.Fatalf("sign out: %d %s", r.Status, r.Header.Get("Location"))
		}
		if b.session() != "" {
			t.Error("session cookie kept after sign out")
		}
		if e.me(tok) != http.StatusUnauthorized {
			t.Error("the session lives on after sign out")
		}
		if r := b.get("/account"); r.Status != http.StatusSeeOther {
			t.Errorf("account page after sign out: %d", r.Status)
		}
	})
}

func TestPagesCookieAttributes(t *testing.T) {
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{})
	u := e.register("cookieuser")
	for _, tc := range []struct {
		host, prefix string
		secure       bool
	}{{"", "", false}, {"auth.example.com", "__Host-", true}} {
		b := newBrowser(t, e)
		req, _ := http.NewRequest("GET", e.URL+"/signin", nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		b.send(req)
		vals := url.Values{"username": {u.Name}, "password": {u.Password}, "csrf": {b.csrf}}
		e.secret(u.Password)
		req, _ = http.NewRequest("POST", e.URL+"/signin", strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.host != "" {
			req.Host = tc.host
			req.AddCookie(&http.Cookie{Name: tc.prefix + "authsvc_csrf", Value: b.csrf})
		}
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("host %q: sign in %d", tc.host, res.StatusCode)
		}
		var found bool
		for _, line := range res.Header.Values("Set-Cookie") {
			if !strings.HasPrefix(line, tc.prefix+"authsvc_session=") {
				continue
			}
			found = true
			for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
				if !strings.Contains(line, want) {
					t.Errorf("host %q: cookie lacks %s", tc.host, want)
				}
			}
			if strings.Contains(line, "Domain=") {
				t.Errorf("host %q: cookie not host-only", tc.host)
			}
			if strings.Contains(line, "Secure") != tc.secure {
				t.Errorf("host %q: Secure is %v, want %v", tc.host, !tc.secure, tc.secure)
			}
		}
		if !found {
			t.Errorf("host %q: no %sauthsvc_session cookie in %v", tc.host, tc.prefix, res.Header.Values("Set-Cookie"))
		}
	}
}

func TestPagesCSRF(t *testing.T) {
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{})
	u := e.register("csrfuser")
	b := newBrowser(t, e)
	b.get("/signin")
	creds := func() url.Values { return url.Values{"username": {u.Name}, "password": {u.Password}} }
	// A form posted cross-site by a browser (Fetch metadata, or Origin) is refused, token or not.
	wantStatus(t, b.post("/signin", creds(), "Sec-Fetch-Site", "cross-site"), http.StatusForbidden, "another site")
	wantStatus(t, b.post("/signin", creds(), "Origin", "https://evil.example"), http.StatusForbidden, "another site")
	// Without Fetch metadata, the token decides.
	v := creds()
	v.Set("csrf", "forged")
	wantStatus(t, b.post("/signin", v), http.StatusForbidden, "expired")
	v.Del("csrf")
	v.Set("csrf", "")
	wantStatus(t, b.post("/signin", v), http.StatusForbidden, "expired")
	if b.session() != "" {
		t.Fatal("a refused form signed in")
	}
	b.signIn(u) // same-origin with the token: accepted
}

func TestPagesRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		u := e.register("refuseduser")
		b := newBrowser(t, e)
		b.get("/signin")
		before := e.Hasher.dummies.Load()
		wrong := b.post("/signin", url.Values{"username": {u.Name}, "password": {"not-the-password"}})
		unknown := b.post("/signin", url.Values{"username": {"nosuchuser"}, "password": {"not-the-password"}})
		wantStatus(t, wrong, http.StatusUnauthorized, domain.MsgPagesBadCredentials)
		wantStatus(t, unknown, http.StatusUnauthorized, domain.MsgPagesBadCredentials)
		if e.Hasher.dummies.Load() != before+1 {
			t.Error("the unknown user was not given the dummy compare")
		}
		if b.session() != "" {
			t.Fatal("signed in with a wrong password")
		}
		// The page's sign-ins are in the audit trail like the API's.
		b.signIn(u)
		root := e.admin("pagesroot")
		events := e.audit(root.Token, url.Values{"user": {u.Name}, "limit": {"200"}}).Events
		var got []string
		for _, ev := range events {
			got = append(got, ev.Event)
		}
		for _, want := range []string{domain.AuditLoginFailed, domain.AuditLoginSucceeded} {
			if !slices.Contains(got, want) {
				t.Errorf("audit trail of %s lacks %s: %v", u.Name, want, got)
			}
		}
	})
}

func TestPagesAccountLimit(t *testing.T) {
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{authOpts: account.Options{FailedLoginLimit: 3}})
	u := e.register("limiteduser")
	b := newBrowser(t, e)
	b.get("/signin")
	for range 3 {
		wantStatus(t, b.post("/signin", url.Values{"username": {u.Name}, "password": {"wrong-password"}}), http.StatusUnauthorized, "")
	}
	// The API's counter and the page's are one: the right password is refused too.
	wantStatus(t, b.post("/signin", url.Values{"username": {u.Name}, "password": {u.Password}}), http.StatusTooManyRequests, domain.MsgPagesRateLimited)
	e.login(u.Name, u.Password).want(t, http.StatusTooManyRequests, "")
}

func TestPagesIPLimit(t *testing.T) {
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{config: func(c *config.Config) { c.RateLimit.AuthPerMinute = 2 }})
	u := e.register("iplimited")
	b := newBrowser(t, e)
	b.get("/signin")
	for range 2 {
		wantStatus(t, b.post("/signin", url.Values{"username": {"someone"}, "password": {"wrong-password"}}), http.StatusUnauthorized, "")
	}
	r := b.post("/signin", url.Values{"username": {u.Name}, "password": {u.Password}})
	wantStatus(t, r, http.StatusTooManyRequests, domain.MsgPagesRateLimited)
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

// TestPagesIPLimitIPv6: IPv6 clients of one /64 share the pages' bucket
// (as the API's limits do), so rotating addresses inside it gains nothing.
func TestPagesIPLimitIPv6(t *testing.T) {
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{config: func(c *config.Config) {
		c.RateLimit.AuthPerMinute, c.Server.TrustedProxies = 2, []string{"127.0.0.0/8"}
	}})
	b := newBrowser(t, e)
	b.get("/signin")
	wrong := url.Values{"username": {"someone"}, "password": {"wrong-password"}}
	for i := range 2 {
		wantStatus(t, b.post("/signin", wrong, "X-Forwarded-For", fmt.Sprintf("2001:db8:7:7::%x", i+1)), http.StatusUnauthorized, "")
	}
	wantStatus(t, b.post("/signin", wrong, "X-Forwarded-For", "2001:db8:7:7:ffff::9"), http.StatusTooManyRequests, domain.MsgPagesRateLimited)
	wantStatus(t, b.post("/signin", wrong, "X-Forwarded-For", "2001:db8:7:8::1"), http.StatusUnauthorized, "") // another /64
}

func TestPagesUnverifiedEmail(t *testing.T) {
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{authOpts: account.Options{RequireVerifiedEmail: true}})
	u := &user{Name: "unverified", Email: "unverified@example.com", Password: "pw-unverified-Xq7!zz"}
	e.secret(u.Password)
	if _, err := e.Auth.CreateUser(context.Background(), domain.Registration{Username: u.Name, Email: u.Email, Password: u.Password}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)
	b.get("/signin")
	wantStatus(t, b.post("/signin", url.Values{"username": {u.Name}, "password": {u.Password}}), http.StatusForbidden, domain.MsgPagesUnverified)
	if b.session() != "" {
		t.Fatal("an unverified account signed in")
	}
}

func TestPagesMFA(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("mfapageuser")
		secret, recovery := e.enrol(u)
		b := newBrowser(t, e)
		b.get("/signin")
		r := b.post("/signin", url.Values{"username": {u.Name}, "password": {u.Password}})
		wantStatus(t, r, http.StatusOK, `action="/signin/mfa"`)
		if b.session() != "" {
			t.Fatal("signed in before the second factor")
		}
		m := mfaField.FindSubmatch(r.Body)
		if m == nil {
			t.Fatal("no mfa_token field")
		}
		wantStatus(t, b.post("/signin/mfa", url.Values{"mfa_token": {string(m[1])}, "code": {"000000"}}), http.StatusUnauthorized, domain.MsgPagesBadCode)
		e.nextStep()
		code := e.code(secret, 0)
		// Race the one code: exactly one of concurrent posts signs in.
		var wg sync.WaitGroup
		results := make([]*response, 5)
		for i := range results {
			wg.Go(func() {
				nb := newBrowser(t, e)
				u0, _ := url.Parse(e.URL)
				nb.c.Jar.SetCookies(u0, b.c.Jar.Cookies(u0))
				nb.csrf = b.csrf
				results[i] = nb.post("/signin/mfa", url.Values{"mfa_token": {string(m[1])}, "code": {code}})
			})
		}
		wg.Wait()
		won := 0
		for _, r := range results {
			if r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/account" {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent posts of one code signed in, want 1", won)
		}
		// A recovery code works on a new sign-in.
		b2 := newBrowser(t, e)
		b2.get("/signin")
		r = b2.post("/signin", url.Values{"username": {u.Name}, "password": {u.Password}})
		m = mfaField.FindSubmatch(r.Body)
		r = b2.post("/signin/mfa", url.Values{"mfa_token": {string(m[1])}, "code": {recovery[0]}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("recovery code: %d %s", r.Status, r.Body)
		}
		p, err := e.Auth.Authenticate(context.Background(), b2.session())
		if err != nil || p.Claims.AAL != domain.AAL2 {
			t.Fatalf("browser session after MFA: %v %+v", err, p)
		}
	})
}

func TestPagesSessionDiesWithPasswordChangeAndUserLogout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		u := e.register("dyinguser")
		b := newBrowser(t, e)
		b.signIn(u)
		wantStatus(t, b.get("/account"), http.StatusOK, "dyinguser")
		e.do("PUT", "/auth/users/dyinguser/password", map[string]string{"current_password": u.Password,
			"new_password": "a-new-Pw-for-dying"}, u.Token).want(t, http.StatusOK, "")
		e.secret("a-new-Pw-for-dying")
		if r := b.get("/account"); r.Status != http.StatusSeeOther {
			t.Fatalf("account page after a password change: %d", r.Status)
		}
		u.Password = "a-new-Pw-for-dying"
		b2 := newBrowser(t, e)
		b2.signIn(u)
		if _, err := e.Auth.LogoutUser(context.Background(), u.Name); err != nil {
			t.Fatal(err)
		}
		if r := b2.get("/account"); r.Status != http.StatusSeeOther {
			t.Fatalf("account page after user logout: %d", r.Status)
		}
	})
}
