package federation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestPasskeyAfterAFederatedSignIn: an account with TOTP and a passkey is
// offered webauthn after a provider too, and the passkey finishes the
// sign-in with amr ["fed","hwk"], aal2.
func TestPasskeyAfterAFederatedSignIn(t *testing.T) {
	t.Parallel()
	m := newMock(t)
	s := newAuthsvc(t, listen(t), storetest.SQLiteURL(t), withProviders(mockProvider(m)), asLocalhost, func(c *config.Config) {
		c.WebAuthn.Enabled, c.WebAuthn.RPID, c.WebAuthn.RPName = true, "localhost", "authsvc test"
		c.WebAuthn.Origins = []string{c.Server.PublicURL}
	})
	ctx := context.Background()
	if _, _, err := s.Stack.Auth.Register(ctx, domain.Registration{Username: "hedy", Email: "hedy@example.com", Password: "correct horse hedy"}); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Stack.Auth.Login(ctx, "hedy", "correct horse hedy")
	if err != nil {
		t.Fatal(err)
	}
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-hedy", Email: "hedy@example.com"})
	if status, raw := s.link(t, tok.Token, "mock"); status != http.StatusOK {
		t.Fatalf("link: %d %s", status, raw)
	}
	a := testkit.NewAuthenticator(s.URL, "localhost")
	var opts json.RawMessage
	if status, raw := s.call(t, http.MethodPost, "/auth/passkeys/register/begin", tok.Token, map[string]string{}, &opts); status != http.StatusOK {
		t.Fatalf("register/begin: %d %s", status, raw)
	}
	answer, cred := a.Create(t, opts)
	if status, raw := s.call(t, http.MethodPost, "/auth/passkeys/register/finish", tok.Token,
		map[string]any{"name": "key", "credential": json.RawMessage(answer)}, nil); status != http.StatusCreated {
		t.Fatalf("register/finish: %d %s", status, raw)
	}
	testkit.EnrolTOTP(t, s.Stack.Auth, "hedy", "correct horse hedy")

	m.QueueUser(&mockoidc.MockUser{Subject: "sub-hedy", Email: "hedy@example.com"})
	code, verifier := s.signIn(t, "mock")
	status, raw, pending := s.exchange(t, code, verifier)
	if status != http.StatusOK || !pending.MFARequired || !slices.Contains(pending.Methods, domain.MethodWebAuthn) {
		t.Fatalf("exchange: %d %s, want mfa_required with webauthn", status, raw)
	}
	if status, raw = s.call(t, http.MethodPost, "/auth/mfa/webauthn/begin", "", map[string]string{"mfa_token": pending.MFAToken}, &opts); status != http.StatusOK {
		t.Fatalf("mfa/webauthn/begin: %d %s", status, raw)
	}
	var done tokenResponse
	if status, raw = s.call(t, http.MethodPost, "/auth/mfa/webauthn/finish", "", map[string]any{"mfa_token": pending.MFAToken,
		"credential": json.RawMessage(a.Get(t, opts, cred))}, &done); status != http.StatusOK {
		t.Fatalf("mfa/webauthn/finish: %d %s", status, raw)
	}
	if c := readClaims(t, done.AccessToken); !slices.Equal(c.AMR, []string{"fed", "hwk"}) || c.AAL != "aal2" {
		t.Errorf("amr %v aal %q, want [fed hwk] aal2", c.AMR, c.AAL)
	}
}
