package cmd_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestPasskeyCeremonyAcrossReplicas: two serve processes on one PostgreSQL
// database; every passkey ceremony begins on one and finishes on the
// other (the challenges live in the database).
func TestPasskeyCeremonyAcrossReplicas(t *testing.T) {
	t.Parallel()
	const origin = "https://login.example.com"
	c := newMigratedCLI(t, storetest.PostgresURL(t), "AUTHSVC_AUTH_KEY_ENCRYPTION_KEY="+testKEK,
		"AUTHSVC_WEBAUTHN_ENABLED=true", "AUTHSVC_WEBAUTHN_RP_ID=example.com", "AUTHSVC_WEBAUTHN_ORIGINS="+origin)
	a, b := c.startServer(), c.startServer()
	call := func(base, path, token string, body any) (int, []byte) {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	status, out := call(a.base, "/auth/register", "", map[string]string{"username": "replica", "email": "replica@example.com",
		"password": "correct horse replica"})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, out)
	}
	var reg struct {
		Token string `json:"access_token"`
	}
	_ = json.Unmarshal(out, &reg)
	auth := testkit.NewAuthenticator(origin, "example.com")
	status, opts := call(a.base, "/auth/passkeys/register/begin", reg.Token, map[string]string{})
	if status != http.StatusOK {
		t.Fatalf("register/begin on a: %d %s", status, opts)
	}
	answer, cred := auth.Create(t, opts)
	if status, out = call(b.base, "/auth/passkeys/register/finish", reg.Token,
		map[string]any{"name": "key", "credential": json.RawMessage(answer)}); status != http.StatusCreated {
		t.Fatalf("register/finish on b: %d %s", status, out)
	}
	status, opts = call(b.base, "/auth/passkeys/login/begin", "", map[string]string{"username": "replica"})
	if status != http.StatusOK {
		t.Fatalf("login/begin on b: %d %s", status, opts)
	}
	if status, out = call(a.base, "/auth/passkeys/login/finish", "",
		map[string]any{"credential": json.RawMessage(auth.Get(t, opts, cred))}); status != http.StatusOK {
		t.Fatalf("login/finish on a: %d %s", status, out)
	}
}
