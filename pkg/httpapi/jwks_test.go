package httpapi_test

import (
	"encoding/json"
	"github.com/authsvc/authsvc/pkg/seal"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/httpapi"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/authsvc/authsvc/pkg/token"
)

// The JWKS endpoint lists every key that may verify, with kid, alg and use,
// never the HS256 secret, with a short Cache-Control; the response matches
// the OpenAPI document.
func TestJWKSEndpoint(t *testing.T) {
	iss, err := token.New(token.Config{Secret: []byte(testSecret), Issuer: "authsvc", AccessTTL: time.Hour, ResetTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]byte(strings.Repeat("e", 32)))
	if err != nil {
		t.Fatal(err)
	}
	var stored []domain.SigningKey
	states := []domain.KeyState{domain.KeyRetired, domain.KeyActive, domain.KeyNext}
	for i, alg := range token.AsymmetricAlgs() {
		kp, err := token.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		k := domain.SigningKey{KID: kp.KID, Alg: alg, State: states[i], PublicKey: kp.PublicDER,
			PrivateKey: sealer.Seal(kp.KID, kp.PrivateDER), CreatedAt: time.Now()}
		if k.State == domain.KeyRetired {
			until := time.Now().Add(time.Hour)
			k.VerifyUntil = &until
		}
		stored = append(stored, k)
	}
	if err := iss.SetKeys(stored, sealer); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Deps{Logger: zerolog.Nop(), Keys: iss, JWKSMaxAge: 90 * time.Second}, httpapi.Options{})
	srv := httptest.NewServer(httpapi.SpecCheckingHandler(t, api.Handler()))
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=90" {
		t.Fatalf("%d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != len(stored) {
		t.Fatalf("%d keys published, want %d (retired-but-valid, active, next): %s", len(set.Keys), len(stored), body)
	}
	for i, k := range set.Keys {
		if k["kid"] != stored[i].KID || k["alg"] != stored[i].Alg || k["use"] != "sig" || k["d"] != "" || k["k"] != "" {
			t.Errorf("key %d: %v", i, k)
		}
	}
	if strings.Contains(string(body), iss.SecretKID()) || strings.Contains(string(body), "oct") {
		t.Fatalf("the HS256 key is published: %s", body)
	}
}

// Through serve's wiring (the harness), on both databases: the key set is
// served, empty while HS256 alone signs, and checked against the document.
func TestJWKSThroughServeWiring(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/.well-known/jwks.json", nil, "")
		r.want(t, http.StatusOK, "")
		if strings.TrimSpace(string(r.Body)) != `{"keys":[]}` || r.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Fatalf("JWKS %s, Cache-Control %q", r.Body, r.Header.Get("Cache-Control"))
		}
	})
}

// forEachBackendWith is forEachBackend with a configuration of its own.
func forEachBackendWith(t *testing.T, cfg envConfig, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, newEnv(t, b.URL(t), cfg)) })
	}
}

// withAudience configures auth.audience.
func withAudience(aud string) envConfig {
	return envConfig{config: func(c *config.Config) { c.Auth.Audience = aud }}
}
