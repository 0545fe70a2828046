package cmd_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// Keys tests run `serve` with a key-encryption key, a short key refresh
// interval (documented: auth.keys_refresh_interval, 100ms–10s) and no rate
// limit (the rotation test logs in continuously from one address).
const (
	testKEK        = "test-key-encryption-key-of-32-bytes-or-more"
	refreshForTest = "200ms"
	// propagationLimit is the promise: every replica picks up a key
	// change within 10 seconds.
	propagationLimit = 10 * time.Second
)

func newKeysCLI(t *testing.T, databaseURL string, env ...string) *cli {
	return newMigratedCLI(t, databaseURL, append([]string{"AUTHSVC_AUTH_KEY_ENCRYPTION_KEY=" + testKEK,
		"AUTHSVC_AUTH_KEYS_REFRESH_INTERVAL=" + refreshForTest, "AUTHSVC_RATELIMIT_ENABLED=false"}, env...)...)
}

// login logs alice in on s and returns the token (or the status on failure).
func (s *server) login(t testing.TB, username string) (string, int) {
	t.Helper()
	resp, err := http.PostForm(s.base+"/auth/login", url.Values{"username": {username}, "password": {testPassword}})
	if err != nil {
		t.Error(err)
		return "", 0
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return "", resp.StatusCode
	}
	return body.AccessToken, resp.StatusCode
}

// status is the status of GET /auth/me with tok.
func (s *server) status(t testing.TB, tok string) int {
	code, _ := s.authGet(t, "/auth/me", tok)
	return code
}

// tokenHeader decodes a token's JOSE header.
func tokenHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// within polls cond until it holds, failing after limit.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// jwksClient fetches s's JWKS over HTTP with MicahParks/keyfunc, the way a
// consuming Go service does.
func jwksClient(t *testing.T, s *server) keyfunc.Keyfunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k, err := keyfunc.NewDefaultCtx(ctx, []string{s.base + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Zero-downtime rotation with two replicas on one PostgreSQL database:
// generate + activate on the CLI while both serve traffic; both switch to
// the new key within 10 s and verify tokens of the old and the new key;
// retiring the old key makes its tokens 401 on both; no request in between
// fails.
func TestKeyRotationAcrossTwoServers(t *testing.T) {
	t.Parallel()
	c := newKeysCLI(t, storetest.PostgresURL(t))
	expectExit(t, c.runStdin(testPassword, "user", "create", "alice", "--email", "alice@example.com", "--password-stdin"), 0)
	servers := []*server{c.startServer(), c.startServer()}

	hsTok, _ := servers[0].login(t, "alice")
	if h := tokenHeader(t, hsTok); h["alg"] != "HS256" || !strings.HasPrefix(h["kid"].(string), "hs256-") {
		t.Fatalf("default token header %v", h)
	}

	// Traffic: log in on one replica, use the token on the other, all the time.
	var requests, failures atomic.Int64
	var failMu sync.Mutex
	var firstFailure string
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	for i := range servers {
		traffic.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, code := servers[i].login(t, "alice")
				other := servers[1-i]
				if code == http.StatusOK {
					code = other.status(t, tok)
				}
				requests.Add(1)
				if code != http.StatusOK {
					failures.Add(1)
					failMu.Lock()
					if firstFailure == "" {
						firstFailure = "status " + http.StatusText(code)
						if tok != "" {
							firstFailure += " for a token with header " + strings.SplitN(tok, ".", 2)[0]
						}
					}
					failMu.Unlock()
				}
			}
		})
	}
	stopTraffic := func() {
		select {
		case <-stop:
		default:
			close(stop)
			traffic.Wait()
		}
	}
	t.Cleanup(stopTraffic)

	// rotateTo generates and activates a key and waits until both replicas sign with it.
	rotateTo := func(alg string) (kid, tok string) {
		t.Helper()
		gen := c.run("keys", "generate", "--alg", alg)
		expectExit(t, gen, 0)
		kid = strings.TrimSpace(gen.stdout)
		expectExit(t, c.run("keys", "activate", kid), 0)
		took := within(t, propagationLimit, "both replicas sign with "+alg, func() bool {
			for _, s := range servers {
				tok, _ = s.login(t, "alice")
				if tok == "" || tokenHeader(t, tok)["kid"] != kid {
					return false
				}
			}
			return true
		})
		t.Logf("%s key %s signing on both replicas %s after activate returned", alg, kid, took.Round(time.Millisecond))
		return kid, tok
	}
	k1, k1Tok := rotateTo("EdDSA")
	k2, k2Tok := rotateTo("ES256")
	if h := tokenHeader(t, k2Tok); h["alg"] != "ES256" {
		t.Fatalf("token of the new key has header %v", h)
	}
	for _, s := range servers {
		for name, tok := range map[string]string{"HS256": hsTok, "old EdDSA": k1Tok, "new ES256": k2Tok} {
			if code := s.status(t, tok); code != http.StatusOK {
				t.Fatalf("%s token on %s: %d, want 200", name, s.base, code)
			}
		}
	}

	t.Run("a consumer verifies through JWKS with keyfunc", func(t *testing.T) {
		k := jwksClient(t, servers[1])
		for _, tok := range []string{k1Tok, k2Tok} {
			if _, err := jwt.Parse(tok, k.Keyfunc, jwt.WithIssuer("authsvc")); err != nil {
				t.Fatalf("keyfunc verify: %v", err)
			}
		}
	})

	stopTraffic()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during the rotation; first: %s", n, requests.Load(), firstFailure)
	}
	t.Logf("%d login+cross-replica requests during the rotation, none failed", requests.Load())

	r := c.run("keys", "retire", k1)
	expectExit(t, r, 4)
	expectExit(t, c.run("keys", "retire", k2, "--force=false"), 4)
	expectExit(t, c.run("keys", "retire", k1, "--force"), 0)
	within(t, propagationLimit, "the retired key's tokens get 401 on both replicas", func() bool {
		return servers[0].status(t, k1Tok) == http.StatusUnauthorized && servers[1].status(t, k1Tok) == http.StatusUnauthorized
	})
	for _, s := range servers {
		if s.status(t, k2Tok) != http.StatusOK || s.status(t, hsTok) != http.StatusOK {
			t.Fatal("retiring the old key broke the tokens of another key")
		}
		if _, body := s.get(t, "/.well-known/jwks.json"); strings.Contains(body, k1) || !strings.Contains(body, k2) {
			t.Fatalf("JWKS after retire: %s", body)
		}
	}
	list := decodeJSON[[]map[string]any](t, c.run("keys", "list", "-o", "json"))
	if len(list) != 3 || list[0]["state"] != "secret" || list[1]["state"] != "retired" || list[2]["state"] != "active" || list[2]["signing"] != true {
		t.Fatalf("keys list: %v", list)
	}
}

// For each algorithm: issue, verify through the JWKS endpoint with a real
// JWKS client, and the refusals: tampered, HS256 signed with the public key,
// another alg under a known kid, unknown kid. On both databases.
func TestKeysPerAlgorithm(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dbURL := b.URL(t)
			c := newKeysCLI(t, dbURL)
			expectExit(t, c.runStdin(testPassword, "user", "create", "alice", "--email", "alice@example.com", "--password-stdin"), 0)
			s := c.startServer()
			t.Cleanup(func() {
				if t.Failed() {
					return
				}
				// Once keys exist, serve refuses to start without the key-encryption key or with another one.
				for _, kek := range []string{"", strings.Repeat("w", 40)} {
					r := newCLI(t, dbURL, "AUTHSVC_AUTH_KEY_ENCRYPTION_KEY="+kek).run("serve", "--addr", testkit.FreeAddr(t))
					if r.code == 0 || !strings.Contains(r.stderr, "key_encryption_key") {
						t.Errorf("serve with key-encryption key %q: exit %d, stderr %s", kek, r.code, r.stderr)
					}
				}
			})
			code, body := s.get(t, "/.well-known/jwks.json")
			if code != 200 || strings.TrimSpace(body) != `{"keys":[]}` {
				t.Fatalf("JWKS with HS256 only: %d %s", code, body)
			}
			resp, err := http.Get(s.base + "/.well-known/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
				t.Fatalf("Cache-Control %q, want public, max-age=300", cc)
			}
			for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
				t.Run(alg, func(t *testing.T) {
					gen := decodeJSON[map[string]any](t, c.run("keys", "generate", "--alg", alg, "-o", "json"))
					kid := gen["kid"].(string)
					expectExit(t, c.run("keys", "activate", kid), 0)
					var tok string
					within(t, propagationLimit, "signing with "+alg, func() bool {
						tok, _ = s.login(t, "alice")
						return tok != "" && tokenHeader(t, tok)["kid"] == kid
					})
					if s.status(t, tok) != 200 {
						t.Fatal("own token refused")
					}
					k := jwksClient(t, s)
					parsed, err := jwt.Parse(tok, k.Keyfunc, jwt.WithIssuer("authsvc"), jwt.WithValidMethods([]string{alg}))
					if err != nil || !parsed.Valid {
						t.Fatalf("verify through JWKS: %v", err)
					}
					claims := parsed.Claims.(jwt.MapClaims)
					if claims["username"] != "alice" || claims["sub"] != "1" || claims["is_admin"] != false || claims["aud"] != nil {
						t.Fatalf("claims %v", claims)
					}

					head, payload, sig := splitToken(t, tok)
					t.Run("tampered is 401", func(t *testing.T) {
						forged := strings.Replace(decodeSegment(t, payload), `"is_admin":false`, `"is_admin":true`, 1)
						if s.status(t, head+"."+base64.RawURLEncoding.EncodeToString([]byte(forged))+"."+sig) != 401 {
							t.Fatal("tampered token accepted")
						}
					})
					claimsOf := jwt.MapClaims{}
					_ = json.Unmarshal([]byte(decodeSegment(t, payload)), &claimsOf)
					t.Run("HS256 signed with the public key is 401", func(t *testing.T) {
						var set struct {
							Keys []json.RawMessage `json:"keys"`
						}
						_, body := s.get(t, "/.well-known/jwks.json")
						_ = json.Unmarshal([]byte(body), &set)
						pub, err := k.Storage().KeyRead(context.Background(), kid)
						if err != nil {
							t.Fatal(err)
						}
						der, err := x509.MarshalPKIXPublicKey(pub.Key())
						if err != nil {
							t.Fatal(err)
						}
						for _, key := range [][]byte{der, []byte(body)} {
							forged := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsOf)
							forged.Header["kid"] = kid
							signed, _ := forged.SignedString(key)
							if s.status(t, signed) != 401 {
								t.Fatal("HS256 token keyed with the public key accepted")
							}
						}
					})
					t.Run("another alg under a known kid is 401, an unknown kid is 401", func(t *testing.T) {
						forged := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsOf)
						forged.Header["kid"] = kid
						signed, _ := forged.SignedString([]byte(strings.Repeat("k", 40))) // the real secret, wrong kid
						if s.status(t, signed) != 401 {
							t.Fatal("HS256 with the secret under an asymmetric kid accepted")
						}
						forged.Header["kid"] = "no-such-kid"
						signed, _ = forged.SignedString([]byte(strings.Repeat("k", 40)))
						if s.status(t, signed) != 401 {
							t.Fatal("unknown kid accepted")
						}
					})
				})
			}
		})
	}
}

func splitToken(t *testing.T, tok string) (string, string, string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

func decodeSegment(t *testing.T, seg string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// pyjwt is Debian's python3 with PyJWT (python3-jwt); the `python3` on PATH
// may be another interpreter without it.
const pyjwt = "/usr/bin/python3"

// requirePython skips (or, in CI, fails) when /usr/bin/python3 cannot import
// the given modules.
func requirePython(t *testing.T, modules ...string) {
	t.Helper()
	err := exec.Command(pyjwt, "-c", "import "+strings.Join(modules, ", ")).Run()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" || storetest.RequirePostgres() {
		t.Fatalf("%s cannot import %v (apt-get install python3-jwt python3-jose): %v", pyjwt, modules, err)
	}
	t.Skipf("%s cannot import %v (apt-get install python3-jwt python3-jose); skipping", pyjwt, modules)
}

// Consumers of the original verify with the secret and name no audience:
// PyJWT's and python-jose's default calls accept authsvc's tokens. PyJWT's
// JWKS client verifies the asymmetric ones.
func TestPythonVerifiers(t *testing.T) {
	t.Parallel()
	requirePython(t, "jwt", "jose", "cryptography")
	c := newKeysCLI(t, storetest.SQLiteURL(t))
	expectExit(t, c.runStdin(testPassword, "user", "create", "alice", "--email", "alice@example.com", "--password-stdin"), 0)
	s := c.startServer()
	hsTok, _ := s.login(t, "alice")
	secretKey := strings.Repeat("k", 40)

	py := func(t *testing.T, script string, env ...string) string {
		t.Helper()
		cmd := exec.Command(pyjwt, "-c", script)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	t.Run("PyJWT with SECRET_KEY and no audience", func(t *testing.T) {
		out := py(t, `import os, jwt
c = jwt.decode(os.environ["TOKEN"], os.environ["SECRET_KEY"], algorithms=["HS256"])
print(c["sub"], c["username"], c["is_admin"])`, "TOKEN="+hsTok, "SECRET_KEY="+secretKey)
		if out != "1 alice False" {
			t.Fatalf("PyJWT: %q", out)
		}
	})
	t.Run("python-jose with SECRET_KEY and no audience", func(t *testing.T) {
		out := py(t, `import os
from jose import jwt
c = jwt.decode(os.environ["TOKEN"], os.environ["SECRET_KEY"], algorithms=["HS256"])
print(c["sub"], c["username"])`, "TOKEN="+hsTok, "SECRET_KEY="+secretKey)
		if out != "1 alice" {
			t.Fatalf("python-jose: %q", out)
		}
	})
	for _, alg := range []string{"EdDSA", "ES256"} {
		t.Run("PyJWT through JWKS with "+alg, func(t *testing.T) {
			kid := strings.TrimSpace(c.run("keys", "generate", "--alg", alg).stdout)
			expectExit(t, c.run("keys", "activate", kid), 0)
			var tok string
			within(t, propagationLimit, "signing with "+alg, func() bool {
				tok, _ = s.login(t, "alice")
				return tok != "" && tokenHeader(t, tok)["kid"] == kid
			})
			out := py(t, `import os, jwt
client = jwt.PyJWKClient(os.environ["JWKS_URL"])
key = client.get_signing_key_from_jwt(os.environ["TOKEN"])
c = jwt.decode(os.environ["TOKEN"], key.key, algorithms=["EdDSA", "ES256", "RS256"])
print(c["username"])`, "TOKEN="+tok, "JWKS_URL="+s.base+"/.well-known/jwks.json")
			if out != "alice" {
				t.Fatalf("PyJWT JWKS: %q", out)
			}
			if alg == "EdDSA" {
				return // python-jose 3.3 has no EdDSA
			}
			out = py(t, `import os, json, urllib.request
from jose import jwt
jwks = json.load(urllib.request.urlopen(os.environ["JWKS_URL"]))
kid = jwt.get_unverified_header(os.environ["TOKEN"])["kid"]
key = next(k for k in jwks["keys"] if k["kid"] == kid)
c = jwt.decode(os.environ["TOKEN"], key, algorithms=["ES256", "RS256"])
print(c["username"])`, "TOKEN="+tok, "JWKS_URL="+s.base+"/.well-known/jwks.json")
			if out != "alice" {
				t.Fatalf("python-jose JWKS: %q", out)
			}
		})
	}
}

// With auth.audience set, tokens carry it and one without it, or with
// another, is 401; with none set (the default), no aud is written.
func TestAudience(t *testing.T) {
	t.Parallel()
	dbURL := storetest.SQLiteURL(t)
	plain := newKeysCLI(t, dbURL)
	expectExit(t, plain.runStdin(testPassword, "user", "create", "alice", "--email", "alice@example.com", "--password-stdin"), 0)
	withAud := newKeysCLI(t, dbURL, "AUTHSVC_AUTH_AUDIENCE=billing-api")
	a, b := plain.startServer(), withAud.startServer()

	noAud, _ := a.login(t, "alice")
	aud, _ := b.login(t, "alice")
	if strings.Contains(decodeSegment(t, strings.Split(noAud, ".")[1]), `"aud"`) {
		t.Fatal("aud written with auth.audience empty")
	}
	if !strings.Contains(decodeSegment(t, strings.Split(aud, ".")[1]), `"aud":"billing-api"`) {
		t.Fatal("aud not written with auth.audience set")
	}
	claims := jwt.MapClaims{}
	_ = json.Unmarshal([]byte(decodeSegment(t, strings.Split(aud, ".")[1])), &claims)
	claims["aud"] = "other-api"
	other := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	other.Header["kid"] = tokenHeader(t, aud)["kid"]
	otherTok, _ := other.SignedString([]byte(strings.Repeat("k", 40)))

	for _, tt := range []struct {
		name string
		s    *server
		tok  string
		want int
	}{
		{"no audience configured: a token without aud", a, noAud, 200},
		{"no audience configured: a token with one", a, aud, 200},
		{"audience set: its own token", b, aud, 200},
		{"audience set: a token without aud", b, noAud, 401},
		{"audience set: a token with another aud", b, otherTok, 401},
	} {
		if got := tt.s.status(t, tt.tok); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// The keys commands' output and exit codes (README, Command line).
func TestKeysCommands(t *testing.T) {
	t.Parallel()
	dbURL := storetest.SQLiteURL(t)
	// A refresh interval of 2 s: activate waits up to 4 s after generate, surely
	// long enough to be seen however slow the commands in between are.
	c := newKeysCLI(t, dbURL, "AUTHSVC_AUTH_KEYS_REFRESH_INTERVAL=2s")
	gen := c.run("keys", "generate", "--alg", "ES256")
	expectExit(t, gen, 0)
	kid := strings.TrimSpace(gen.stdout)
	if strings.ContainsAny(kid, " \n") || !strings.HasPrefix(kid, "es256-") || len(kid) != len("es256-")+43 {
		t.Fatalf("generate prints the kid alone: %q", gen.stdout)
	}
	expectExit(t, c.run("keys", "generate", "--alg", "HS256"), 2)
	expectExit(t, newCLI(t, dbURL).run("keys", "generate"), 2) // no key-encryption key
	expectExit(t, c.run("keys", "activate"), 2)
	expectExit(t, c.run("keys", "activate", "no-such-kid"), 3)
	expectExit(t, c.run("keys", "retire", "no-such-kid"), 3)
	act := c.run("keys", "activate", kid, "-o", "json")
	if !strings.Contains(act.stderr, "until every replica has seen key "+kid) {
		t.Errorf("activate right after generate does not say it waits: %q", act.stderr)
	}
	activated := decodeJSON[map[string]any](t, act)
	if activated["state"] != "active" || activated["signing"] != true || activated["activated_at"] == nil {
		t.Fatalf("activate -o json: %v", activated)
	}
	expectExit(t, c.run("keys", "activate", kid), 4)
	expectExit(t, c.run("keys", "retire", kid), 4)
	next := strings.TrimSpace(c.run("keys", "generate").stdout)
	retired := decodeJSON[map[string]any](t, c.run("keys", "retire", next, "-o", "json"))
	if retired["state"] != "retired" || retired["published"] != false {
		t.Fatalf("retire of a next key: %v", retired)
	}
	list := c.run("keys", "list")
	expectExit(t, list, 0)
	lines := strings.Split(strings.TrimSpace(list.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "KID") || !strings.Contains(lines[1], "hs256-") ||
		!strings.Contains(lines[2], kid) || !strings.Contains(lines[2], "active") || !strings.Contains(lines[3], "retired") {
		t.Fatalf("keys list:\n%s", list.stdout)
	}
	if strings.Contains(list.stdout, strings.Repeat("k", 40)) || strings.Contains(list.stdout, testKEK) {
		t.Fatal("keys list shows a secret")
	}
}
