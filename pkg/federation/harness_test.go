package federation_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/cmd"
	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

const (
	testSecret = "federation-test-secret-key-of-32-bytes-min"
	testKEK    = "federation-test-key-encryption-key-32-bytes"
	// appCallback is the app's page the flow ends at: nothing listens
	// there, the tests read the redirect.
	appCallback = "http://127.0.0.1:1/app/callback"
)

// authsvc is a running authsvc as serve builds it, with identity providers.
type authsvc struct {
	URL     string
	Stack   *cmd.Stack
	Queries *storetest.Counter // the statements the database received
	logs    *testkit.SyncBuffer
	dbURL   string
}

// listen reserves a loopback address, so a server's URL is known before it
// is built (its issuer, its callback at the provider).
func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// newAuthsvc builds and serves authsvc over dbURL on l with tune applied to
// its configuration.
func newAuthsvc(t testing.TB, l net.Listener, dbURL string, tune ...func(*config.Config)) *authsvc {
	t.Helper()
	s := &authsvc{URL: "http://" + l.Addr().String(), logs: &testkit.SyncBuffer{}, dbURL: dbURL, Queries: storetest.NewCounter()}
	conf, err := config.Load(config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conf.Database.URL, conf.Database.AutoMigrate, conf.Database.QueryTimeout = dbURL, true, time.Minute
	conf.Auth.SecretKey, conf.Auth.KeyEncryptionKey, conf.Auth.BcryptCost = testSecret, testKEK, 4
	conf.RateLimit.AuthPerMinute, conf.RateLimit.DefaultPerMinute = 1_000_000, 1_000_000
	conf.Server.PublicURL = s.URL
	conf.Auth.RedirectAllowList = []string{appCallback}
	conf.Mail.FrontendURL = s.URL
	for _, f := range tune {
		f(conf)
	}
	s.URL = conf.Server.PublicURL // a tune may name the host "localhost" (cookies are per host, not per port)
	conf.Testing = true           // bcrypt cost 4
	if err := conf.Validate(); err != nil {
		t.Fatal(err)
	}
	logger := zerolog.New(s.logs)
	stack, err := cmd.Build(context.Background(), conf, cmd.BuildOptions{Logger: &logger, WrapDriver: s.Queries.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	s.Stack = stack
	srv := httptest.NewUnstartedServer(stack.Handler)
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// asLocalhost names the server http://localhost:port: a browser keeps its
// cookies apart from a server at 127.0.0.1 (cookies are per host, not port).
func asLocalhost(c *config.Config) {
	c.Server.PublicURL = strings.Replace(c.Server.PublicURL, "127.0.0.1", "localhost", 1)
}

// withProviders configures the identity providers.
func withProviders(ps ...config.IdentityProviderConfig) func(*config.Config) {
	return func(c *config.Config) { c.IdentityProviders = ps }
}

// newMock runs mockoidc, an OpenID provider not written here (it signs in
// whichever user is queued, without a page).
func newMock(t testing.TB) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// mockProvider is the configuration of m as provider "mock".
func mockProvider(m *mockoidc.MockOIDC) config.IdentityProviderConfig {
	c := m.Config()
	return config.IdentityProviderConfig{Name: "mock", Kind: domain.ProviderOIDC, Label: "Mock", Issuer: c.Issuer,
		ClientID: c.ClientID, ClientSecret: c.ClientSecret}
}

// browser is a cookie-keeping client that stops at the app's callback.
func browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), "http://127.0.0.1:1/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	return verifier, oauth2.S256ChallengeFromVerifier(verifier)
}

// startURL is the app's link to sign in with provider.
func (s *authsvc) startURL(provider, redirectTo, challenge string) string {
	return s.URL + "/auth/providers/" + provider + "/start?" + url.Values{"redirect_to": {redirectTo},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode()
}

// arrive follows u in b and returns where the flow sent the browser back
// to the app (the query of the app's callback), failing when it did not.
func arrive(t testing.TB, b *http.Client, u string) url.Values {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, appCallback) {
		t.Fatalf("flow ended at %d %q: %s", resp.StatusCode, loc, body)
	}
	to, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return to.Query()
}

// signIn runs the API flow: start, the provider, the callback; it returns
// the app's code and verifier.
func (s *authsvc) signIn(t testing.TB, provider string) (code, verifier string) {
	t.Helper()
	verifier, challenge := pkce()
	q := arrive(t, browser(t), s.startURL(provider, appCallback, challenge))
	if q.Get("code") == "" {
		t.Fatalf("no code at the app: %v", q)
	}
	return q.Get("code"), verifier
}

// call sends a JSON request and decodes the JSON answer into out (when
// not nil); it returns the status and the raw body.
func (s *authsvc) call(t testing.TB, method, path, bearer string, in, out any) (int, string) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

// tokenResponse is the usual token response, or mfa_required.
type tokenResponse struct {
	AccessToken string   `json:"access_token"`
	MFARequired bool     `json:"mfa_required"`
	MFAToken    string   `json:"mfa_token"`
	Methods     []string `json:"methods"`
}

// exchange trades a code for the token response.
func (s *authsvc) exchange(t testing.TB, code, verifier string) (int, string, tokenResponse) {
	t.Helper()
	var tok tokenResponse
	status, raw := s.call(t, http.MethodPost, "/auth/providers/exchange", "", map[string]string{"code": code, "code_verifier": verifier}, &tok)
	return status, raw, tok
}

// claims are the access token's claims the tests read.
type claims struct {
	Sub string   `json:"sub"`
	AMR []string `json:"amr"`
	AAL string   `json:"aal"`
}

// readClaims decodes a JWT's payload (verification is the server's job,
// checked through GET /auth/me).
func readClaims(t testing.TB, jwt string) claims {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// me is GET /auth/me with the token.
func (s *authsvc) me(t testing.TB, token string) (username, email string) {
	t.Helper()
	var out struct {
		Username string `json:"username"`
		Email    string `json:"email"`
	}
	if status, raw := s.call(t, http.MethodGet, "/auth/me", token, nil, &out); status != http.StatusOK {
		t.Fatalf("GET /auth/me: %d %s", status, raw)
	}
	return out.Username, out.Email
}

// reason is the error body's reason code (the "code" field).
func reason(raw string) string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal([]byte(raw), &e)
	return e.Code
}

// linkStart starts linking provider to the bearer's account and returns the
// URL to send a browser to and the app's PKCE verifier.
func (s *authsvc) linkStart(t testing.TB, bearer, provider string) (authURL, verifier string) {
	t.Helper()
	verifier, challenge := pkce()
	var start struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	if status, raw := s.call(t, http.MethodPost, "/auth/identities/"+provider+"/start", bearer,
		map[string]string{"redirect_to": appCallback, "code_challenge": challenge}, &start); status != http.StatusOK {
		t.Fatalf("link start: %d %s", status, raw)
	}
	return start.AuthorizationURL, verifier
}

// linkExchange redeems a link's code as bearer: the status and body.
func (s *authsvc) linkExchange(t testing.TB, bearer, code, verifier string) (int, string) {
	t.Helper()
	return s.call(t, http.MethodPost, "/auth/identities/exchange", bearer, map[string]string{"code": code, "code_verifier": verifier}, nil)
}

// link links provider to the bearer's account (the upstream signs in
// whoever it has queued) and returns the exchange's status and body.
func (s *authsvc) link(t testing.TB, bearer, provider string) (int, string) {
	t.Helper()
	authURL, verifier := s.linkStart(t, bearer, provider)
	q := arrive(t, browser(t), authURL)
	if q.Get("code") == "" {
		t.Fatalf("link: the app got %v", q)
	}
	return s.linkExchange(t, bearer, q.Get("code"), verifier)
}
