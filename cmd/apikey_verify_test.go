package cmd_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

const testVerifierSecret = "verifier-secret-of-the-product-0123456789"

// verifyOn asks server s about key as a product's backend and returns the
// answer's code ("" when valid).
func verifyOn(t *testing.T, s *server, key string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"key": key})
	req, err := http.NewRequest("POST", s.base+"/keys/verify", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testVerifierSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Valid bool   `json:"valid"`
		Code  string `json:"code"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&m) != nil || m.Valid != (m.Code == "") {
		t.Fatalf("verify: %d %+v", resp.StatusCode, m)
	}
	return m.Code
}

// The admin commands make, list and revoke a user's keys; a revocation by a
// third process reaches two running replicas, which had the key in their
// caches, within 2 seconds.
func TestAPIKeyCommandsAndRevocationAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := newMigratedCLI(t, b.URL(t), "AUTHSVC_API_KEYS_VERIFIER_SECRETS="+testVerifierSecret)
			expectExit(t, c.runStdin(testPassword+"\n", "user", "create", "alice", "--email", "alice@example.com", "--password-stdin"), 0)
			r := c.run("apikey", "create", "alice", "--name", "metering", "--scope", "credits:use", "--scope", "reports:run",
				"--spend-limit", "10.00", "--spend-period", "day", "--rate-limit", "600", "-o", "json")
			created := decodeJSON[struct {
				ID, Key    string
				SpendLimit struct {
					Amount float64
					Period string
				} `json:"spend_limit"`
				RateLimit int `json:"rate_limit_per_minute"`
			}](t, r)
			if created.Key == "" || created.SpendLimit.Amount != 10 || created.SpendLimit.Period != "day" || created.RateLimit != 600 {
				t.Fatalf("created %+v", created)
			}
			list := decodeJSON[struct{ Keys []struct{ ID, Prefix string } }](t, c.run("apikey", "list", "alice", "-o", "json"))
			if len(list.Keys) != 1 || list.Keys[0].ID != created.ID || list.Keys[0].Prefix != created.Key[:8] {
				t.Fatalf("list %+v", list)
			}
			expectExit(t, c.run("apikey", "create", "alice", "--name", "x", "--scope", "a", "--spend-limit", "10", "--spend-period", "week"), 2)

			s1, s2 := c.startServer(), c.startServer()
			for _, s := range []*server{s1, s2} {
				if code := verifyOn(t, s, created.Key); code != "" {
					t.Fatalf("before the revocation: %q", code)
				}
			}
			expectExit(t, c.run("apikey", "revoke", "alice", created.ID), 0)
			revoked := time.Now()
			for _, s := range []*server{s1, s2} {
				for verifyOn(t, s, created.Key) != "revoked" {
					if time.Since(revoked) > 2*time.Second {
						t.Fatalf("a replica still accepts the key %s after its revocation", time.Since(revoked))
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
}
