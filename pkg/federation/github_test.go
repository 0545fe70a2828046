package federation_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// gitHub answers as GitHub's documented OAuth app flow and REST API do
// (docs.github.com: "Authorizing OAuth apps", "REST API endpoints for
// users" and "for emails"): /login/oauth/authorize sends the browser back
// with a code at once (the person approved), /login/oauth/access_token
// answers form-encoded unless asked for JSON, and checks the PKCE
// verifier; /user and /user/emails need the token.
type gitHub struct {
	*httptest.Server
	clientID, secret string
	mu               sync.Mutex
	codes            map[string]string // code → PKCE challenge
	user             map[string]any
	emails           []map[string]any
}

func newGitHub(t testing.TB) *gitHub {
	g := &gitHub{clientID: "Iv1.testclient", secret: "github-test-secret", codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != g.clientID || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		code := "gh-code-" + q.Get("state")[:8]
		g.codes[code] = q.Get("code_challenge")
		g.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		g.mu.Lock()
		challenge, ok := g.codes[r.PostForm.Get("code")]
		delete(g.codes, r.PostForm.Get("code"))
		g.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		answer := url.Values{"access_token": {"gho_testtoken"}, "scope": {"read:user,user:email"}, "token_type": {"bearer"}}
		if !ok || r.PostForm.Get("client_id") != g.clientID || r.PostForm.Get("client_secret") != g.secret ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			answer = url.Values{"error": {"bad_verification_code"}, "error_description": {"The code passed is incorrect or expired."}}
		}
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			flat := map[string]string{}
			for k := range answer {
				flat[k] = answer.Get(k)
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(flat)
			return
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(answer.Encode()))
	})
	api := func(v func() any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer gho_testtoken" {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"message":"Requires authentication","documentation_url":"https://docs.github.com/rest"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			g.mu.Lock()
			defer g.mu.Unlock()
			_ = json.NewEncoder(w).Encode(v())
		}
	}
	mux.HandleFunc("GET /api/user", api(func() any { return g.user }))
	mux.HandleFunc("GET /api/user/emails", api(func() any { return g.emails }))
	g.Server = httptest.NewServer(mux)
	t.Cleanup(g.Close)
	return g
}

func (g *gitHub) provider() config.IdentityProviderConfig {
	return config.IdentityProviderConfig{Name: "github", Kind: domain.ProviderGitHub, Label: "GitHub", ClientID: g.clientID,
		ClientSecret: g.secret, GitHubURL: g.URL, GitHubAPIURL: g.URL + "/api"}
}

func (g *gitHub) set(user map[string]any, emails ...map[string]any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.user, g.emails = user, emails
}

// TestGitHub: GitHub's shape (OAuth2 without an ID token; the user and the
// primary email from its REST API) signs in and links like any provider.
func TestGitHub(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			g := newGitHub(t)
			s := newAuthsvc(t, listen(t), be.URL(t), withProviders(g.provider()))
			g.set(map[string]any{"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjE=", "type": "User", "name": "The Octocat"},
				map[string]any{"email": "octo@secondary.example", "primary": false, "verified": true, "visibility": nil},
				map[string]any{"email": "Octocat@GitHub.example", "primary": true, "verified": true, "visibility": "public"})
			code, verifier := s.signIn(t, "github")
			status, raw, tok := s.exchange(t, code, verifier)
			if status != http.StatusOK {
				t.Fatalf("exchange: %d %s", status, raw)
			}
			if name, email := s.me(t, tok.AccessToken); name != "octocat" || email != "octocat@github.example" {
				t.Errorf("account %q %q, want octocat with the primary email", name, email)
			}
			var ids struct {
				Identities []domain.Identity `json:"identities"`
			}
			s.call(t, http.MethodGet, "/auth/identities", tok.AccessToken, nil, &ids)
			if len(ids.Identities) != 1 || ids.Identities[0].Subject != "583231" || !ids.Identities[0].EmailVerified {
				t.Errorf("identities: %+v, want GitHub's numeric id as the subject", ids.Identities)
			}

			t.Run("an unverified primary email matching an account: 409", func(t *testing.T) {
				g.set(map[string]any{"login": "mallory", "id": 666},
					map[string]any{"email": "octocat@github.example", "primary": true, "verified": false})
				code, verifier := s.signIn(t, "github")
				if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusConflict || reason(raw) != "identity_exists" {
					t.Errorf("exchange: %d %s, want 409 identity_exists", status, raw)
				}
			})
			t.Run("a renamed GitHub login is the same account", func(t *testing.T) {
				g.set(map[string]any{"login": "octocat-renamed", "id": 583231},
					map[string]any{"email": "octocat@github.example", "primary": true, "verified": true})
				code, verifier := s.signIn(t, "github")
				status, raw, tok := s.exchange(t, code, verifier)
				if status != http.StatusOK {
					t.Fatalf("exchange: %d %s", status, raw)
				}
				if name, _ := s.me(t, tok.AccessToken); name != "octocat" {
					t.Errorf("signed in as %q, want octocat", name)
				}
			})
		})
	}
}
