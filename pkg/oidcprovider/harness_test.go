package oidcprovider_test

import (
	"context"
	"encoding/base64"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/cmd"
	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

const (
	testSecret = "oidc-test-secret-key-of-at-least-32-bytes"
	testKEK    = "oidc-test-key-encryption-key-32-bytes-min"
	// rpCallback is where the test relying parties receive codes: nothing
	// listens there, the tests read the redirect.
	rpCallback = "http://127.0.0.1:1/callback"
)

// idp is a running authsvc with the OpenID Connect provider on, as serve
// builds it, at its own issuer URL.
type idp struct {
	URL     string
	Stack   *cmd.Stack
	Queries *storetest.Counter
	logs    *testkit.SyncBuffer
	dbURL   string
	offset  atomic.Int64 // the server clock's lead over the real one
}

// now is the server's clock: the real one plus what advance added.
func (e *idp) now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

// advance moves the server's clock forward (not the relying parties').
func (e *idp) advance(d time.Duration) { e.offset.Add(int64(d)) }

// newIDP builds and serves authsvc over dbURL with an RS256 key (in state
// next, as `keys generate` leaves it: the provider signs with it at once).
func newIDP(t testing.TB, dbURL string, tune ...func(*config.Config)) *idp {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &idp{URL: "http://" + l.Addr().String(), Queries: storetest.NewCounter(), logs: &testkit.SyncBuffer{}, dbURL: dbURL}
	conf, err := config.Load(config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conf.Database.URL, conf.Database.AutoMigrate, conf.Database.QueryTimeout = dbURL, true, time.Minute
	conf.Auth.SecretKey, conf.Auth.KeyEncryptionKey, conf.Auth.BcryptCost = testSecret, testKEK, 4
	conf.RateLimit.AuthPerMinute, conf.RateLimit.DefaultPerMinute = 1_000_000, 1_000_000
	conf.OIDC.Enabled, conf.OIDC.Issuer = true, e.URL
	conf.Mail.FrontendURL = e.URL // the mails' links land on the hosted pages
	for _, f := range tune {
		f(conf)
	}
	logger := zerolog.New(e.logs)
	stack, err := cmd.Build(context.Background(), conf, cmd.BuildOptions{Logger: &logger, WrapDriver: e.Queries.Wrap,
		Clock: e.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	e.Stack = stack
	ctx := context.Background()
	if _, err := stack.Keys.Generate(ctx, "RS256"); err != nil {
		t.Fatal(err)
	}
	if err := stack.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(stack.Handler)
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

// user registers a user with a verified-or-not email and returns it.
func (e *idp) user(t testing.TB, name string) *domain.User {
	t.Helper()
	u, _, err := e.Stack.Auth.Register(context.Background(), domain.Registration{Username: name, Email: name + "@example.com",
		Password: "correct horse " + name})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func password(u *domain.User) string { return "correct horse " + u.Username }

// client registers a client.
func (e *idp) client(t testing.TB, c domain.NewOIDCClient) *domain.CreatedOIDCClient {
	t.Helper()
	if c.Name == "" {
		c.Name = "Test app"
	}
	if c.RedirectURIs == nil && !(len(c.Grants) == 1 && c.Grants[0] == domain.GrantClientCredentials) {
		c.RedirectURIs = []string{rpCallback}
	}
	out, err := e.Stack.Clients.Create(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// browser is a cookie-keeping HTTP client that stops at the relying
// party's callback (nothing listens there) and at any other host.
func browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), rpCallback) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

var (
	hiddenRe = regexp.MustCompile(`name="(csrf|request|mfa_token)" value="([^"]*)"`)
	nextRe   = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]*)">`)
	headRe   = regexp.MustCompile(`<h1>([^<]*)</h1>`)
)

// page is a fetched HTML page: its status, heading and hidden fields.
type page struct {
	status  int
	heading string
	fields  url.Values
	body    string
	loc     *url.URL // set when the client stopped at a redirect
}

func fetch(t testing.TB, c *http.Client, req *http.Request) *page {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	p := &page{status: resp.StatusCode, body: string(b), fields: url.Values{}}
	if m := headRe.FindStringSubmatch(p.body); m != nil {
		p.heading = m[1]
	}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		p.fields.Set(m[1], m[2])
	}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
		p.loc, _ = url.Parse(loc)
	}
	return p
}

func get(t testing.TB, c *http.Client, u string) *page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fetch(t, c, req)
}

// post submits a page's form to path with its hidden fields plus extra,
// and follows the continue page a completed sign-in answers with.
func post(t testing.TB, c *http.Client, base, path string, from *page, extra url.Values) *page {
	t.Helper()
	pg := postOnly(t, c, base, path, from, extra)
	if m := nextRe.FindStringSubmatch(pg.body); m != nil {
		return get(t, c, html.UnescapeString(m[1]))
	}
	return pg
}

func postOnly(t testing.TB, c *http.Client, base, path string, from *page, extra url.Values) *page {
	t.Helper()
	form := url.Values{}
	for k, v := range from.fields {
		form[k] = v
	}
	for k, v := range extra {
		form[k] = v
	}
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	return fetch(t, c, req)
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	return verifier, oauth2.S256ChallengeFromVerifier(verifier)
}

func base64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
