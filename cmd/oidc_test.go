package cmd_test

import (
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestOIDCAcrossReplicas: two `authsvc serve` processes on one PostgreSQL
// database behind one issuer URL (a proxy standing in for the load
// balancer). The authorization request and the sign-in go to one process;
// the callback, the code exchange and userinfo to the other.
func TestOIDCAcrossReplicas(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	c := newMigratedCLI(t, storetest.PostgresURL(t), "AUTHSVC_AUTH_KEY_ENCRYPTION_KEY="+testKEK,
		"AUTHSVC_OIDC_ENABLED=true", "AUTHSVC_OIDC_ISSUER="+issuer)
	expectExit(t, c.run("keys", "generate", "--alg", "RS256"), 0)
	const callback = "http://127.0.0.1:1/callback"
	type created struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	app := decodeJSON[created](t, c.run("client", "create", "App", "--redirect-uri", callback, "--first-party", "-o", "json"))
	a, b := c.startServer(), c.startServer()

	// The proxy: the sign-in half to a, the rest to b.
	var toA, toB atomic.Int64
	pa, pb := proxyTo(t, a.base), proxyTo(t, b.base)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/authorize" || strings.HasPrefix(r.URL.Path, "/signin") || r.URL.Path == "/auth/register" {
			toA.Add(1)
			pa.ServeHTTP(w, r)
			return
		}
		toB.Add(1)
		pb.ServeHTTP(w, r)
	}))
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)

	resp, err := http.Post(issuer+"/auth/register", "application/json",
		strings.NewReader(`{"username":"eve","email":"eve@example.com","password":"correct horse eve"}`))
	if err != nil || resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("register: %v %v", resp, err)
	}
	_ = resp.Body.Close()

	ctx := context.Background()
	provider, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: app.ID, ClientSecret: app.Secret, Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{gooidc.ScopeOpenID, "profile"}}
	jar, _ := cookiejar.New(nil)
	br := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), callback) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	verifier := oauth2.GenerateVerifier()
	body, _ := readPage(t, br, http.MethodGet, conf.AuthCodeURL("st", gooidc.Nonce("nn"), oauth2.S256ChallengeOption(verifier)), nil)
	fields := hiddenFields(body)
	fields.Set("username", "eve")
	fields.Set("password", "correct horse eve")
	body, loc := readPage(t, br, http.MethodPost, issuer+"/signin", fields)
	if m := regexp.MustCompile(`content="0;url=([^"]*)"`).FindStringSubmatch(body); m != nil {
		_, loc = readPage(t, br, http.MethodGet, html.UnescapeString(m[1]), nil)
	}
	if loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("no code at the callback: %v\n%s", loc, body)
	}
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&gooidc.Config{ClientID: app.ID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != idt.Subject {
		t.Fatalf("userinfo %+v %v", info, err)
	}
	if toA.Load() < 3 || toB.Load() < 3 {
		t.Fatalf("the flow did not span both processes: %d requests to a, %d to b", toA.Load(), toB.Load())
	}
}

func proxyTo(t *testing.T, base string) *httputil.ReverseProxy {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host // the issuer's host, as a load balancer passes it
	}}
}

// readPage sends a GET or a form POST and returns the body and, for a
// redirect the client stopped at, its target.
func readPage(t *testing.T, c *http.Client, method, u string, form url.Values) (string, *url.URL) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	loc, _ := resp.Location()
	if resp.StatusCode/100 != 3 {
		loc = nil
	}
	return string(b), loc
}

func hiddenFields(body string) url.Values {
	out := url.Values{}
	for _, m := range regexp.MustCompile(`name="(csrf|request)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		out.Set(m[1], m[2])
	}
	return out
}
