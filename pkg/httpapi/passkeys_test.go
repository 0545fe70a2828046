package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

const (
	passkeyOrigin = "http://localhost:3000"
	passkeyRPID   = "localhost"
)

func passkeyEnv(t *testing.T, dbURL string) *env {
	return newEnv(t, dbURL, envConfig{config: func(c *config.Config) {
		c.Auth.KeyEncryptionKey = testKEK
		c.WebAuthn.Enabled, c.WebAuthn.RPID, c.WebAuthn.RPName = true, passkeyRPID, "authsvc test"
		c.WebAuthn.Origins = []string{passkeyOrigin}
	}})
}

// addPasskey registers a passkey of a on u's account and returns its
// credential id.
func (e *env) addPasskey(u *user, a *testkit.Authenticator, name string) string {
	e.t.Helper()
	opts := e.do("POST", "/auth/passkeys/register/begin", map[string]string{}, u.Token)
	if opts.Status != http.StatusOK {
		e.t.Fatalf("register/begin: %d %s", opts.Status, opts.Body)
	}
	answer, id := a.Create(e.t, opts.Body)
	m := e.do("POST", "/auth/passkeys/register/finish", map[string]any{"name": name, "credential": json.RawMessage(answer)}, u.Token).
		want(e.t, http.StatusCreated, "")
	if m["name"] != name {
		e.t.Fatalf("registered %v", m)
	}
	return id
}

// loginOptions starts a passkey sign-in (username "" for a discoverable one).
func (e *env) loginOptions(username string) []byte {
	e.t.Helper()
	body := map[string]string{}
	if username != "" {
		body["username"] = username
	}
	r := e.do("POST", "/auth/passkeys/login/begin", body, "")
	if r.Status != http.StatusOK {
		e.t.Fatalf("login/begin: %d %s", r.Status, r.Body)
	}
	return r.Body
}

func (e *env) finishLogin(answer []byte) *response {
	e.t.Helper()
	return e.do("POST", "/auth/passkeys/login/finish", map[string]any{"credential": json.RawMessage(answer)}, "")
}

// tokenClaims reads an access token's payload (already verified by the
// server that issued it).
func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func amrOf(t *testing.T, tok string) []string {
	var out []string
	for _, v := range tokenClaims(t, tok)["amr"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// TestPasskeys: register a passkey (a software authenticator signing with
// P-256), sign in with it with and without a username (amr hwk+user,
// aal2), list, rename and delete it, mailed and audited.
func TestPasskeys(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyEnv(t, be.URL(t))
			u := e.register("keyholder")
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			cred := e.addPasskey(u, a, "laptop")
			if e.outboxCount(domain.EmailPasskeyAdded) != 1 {
				t.Fatal("no passkey_added mail")
			}
			for _, username := range []string{u.Name, ""} {
				m := e.finishLogin(a.Get(t, e.loginOptions(username), cred)).want(t, http.StatusOK, "")
				tok := m["access_token"].(string)
				if got := amrOf(t, tok); !slices.Equal(got, []string{"hwk", "user"}) || tokenClaims(t, tok)["aal"] != "aal2" {
					t.Fatalf("sign-in with %q: amr %v aal %v", username, got, tokenClaims(t, tok)["aal"])
				}
				e.do("GET", "/auth/me", nil, tok).want(t, http.StatusOK, "")
			}
			list := e.do("GET", "/auth/passkeys", nil, u.Token).want(t, http.StatusOK, "")["passkeys"].([]any)
			if len(list) != 1 || list[0].(map[string]any)["sign_count"].(float64) != 2 {
				t.Fatalf("passkeys %v", list)
			}
			id := strconv.FormatInt(int64(list[0].(map[string]any)["id"].(float64)), 10)
			if r := e.do("PATCH", "/auth/passkeys/"+id, map[string]string{"name": "work laptop"}, u.Token); r.Status != http.StatusNoContent {
				t.Fatalf("rename: %d %s", r.Status, r.Body)
			}
			if list := e.do("GET", "/auth/passkeys", nil, u.Token).want(t, http.StatusOK, "")["passkeys"].([]any); list[0].(map[string]any)["name"] != "work laptop" {
				t.Fatalf("after the rename: %v", list)
			}
			other := e.register("someoneelse")
			if r := e.do("DELETE", "/auth/passkeys/"+id, nil, other.Token); r.Status != http.StatusNotFound {
				t.Fatalf("another user deleting it: %d", r.Status)
			}
			if r := e.do("DELETE", "/auth/passkeys/"+id, nil, u.Token); r.Status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", r.Status, r.Body)
			}
			if e.outboxCount(domain.EmailPasskeyRemoved) != 1 {
				t.Fatal("no passkey_removed mail")
			}
			e.finishLogin(a.Get(t, e.loginOptions(""), cred)).want(t, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
		})
	}
}

// TestPasskeyRefusals: every way a ceremony must fail, each with its code.
func TestPasskeyRefusals(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyEnv(t, be.URL(t))
			u := e.register("target")
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			cred := e.addPasskey(u, a, "key")

			t.Run("wrong origin", func(t *testing.T) {
				evil := *a
				evil.Origin = "https://evil.example"
				e.finishLogin(evil.Get(t, e.loginOptions(u.Name), cred)).want(t, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
			})
			t.Run("wrong RP ID", func(t *testing.T) {
				evil := *a
				evil.RPID = "evil.example"
				e.finishLogin(evil.Get(t, e.loginOptions(u.Name), cred)).want(t, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
			})
			t.Run("a replayed challenge", func(t *testing.T) {
				answer := a.Get(t, e.loginOptions(u.Name), cred)
				e.finishLogin(answer).want(t, http.StatusOK, "")
				e.finishLogin(answer).want(t, http.StatusUnauthorized, domain.ReasonPasskeyChallenge)
			})
			t.Run("an expired challenge", func(t *testing.T) {
				opts := e.loginOptions(u.Name)
				e.Clock.Advance(domain.PasskeyChallengeTTL + time.Second)
				e.finishLogin(a.Get(t, opts, cred)).want(t, http.StatusUnauthorized, domain.ReasonPasskeyChallenge)
			})
			t.Run("another user's credential", func(t *testing.T) {
				v := e.register("victim")
				b := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
				e.addPasskey(v, b, "victim's")
				// A sign-in begun for the victim answered with the attacker's own passkey.
				e.finishLogin(a.Get(t, e.loginOptions(v.Name), cred)).want(t, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
			})
			t.Run("a sign count that goes backwards", func(t *testing.T) {
				e.finishLogin(a.GetWithCount(t, e.loginOptions(u.Name), cred, 1)).
					want(t, http.StatusUnauthorized, domain.ReasonPasskeySignCount)
				var n int
				if err := e.SQL().Get(&n, e.SQL().Rebind(`SELECT COUNT(*) FROM audit_events WHERE event = ?`),
					domain.AuditPasskeyCloned); err != nil || n != 1 {
					t.Fatalf("%d %s events (%v)", n, domain.AuditPasskeyCloned, err)
				}
			})
			t.Run("a challenge of the other ceremony", func(t *testing.T) {
				opts := e.do("POST", "/auth/passkeys/register/begin", map[string]string{}, e.login(u.Name, u.Password).json(t)["access_token"].(string))
				e.finishLogin(a.Get(t, opts.Body, cred)).want(t, http.StatusUnauthorized, domain.ReasonPasskeyChallenge)
			})
			t.Run("an old sign-in adds a passkey only with the password", func(t *testing.T) {
				tok := e.login(u.Name, u.Password).json(t)["access_token"].(string)
				e.Clock.Advance(domain.RecentSignIn + time.Minute)
				e.do("POST", "/auth/passkeys/register/begin", map[string]string{}, tok).want(t, http.StatusUnprocessableEntity, "")
				e.do("POST", "/auth/passkeys/register/begin", map[string]string{"password": u.Password}, tok).want(t, http.StatusOK, "")
			})
			t.Run("a passkey without user verification is not a second factor", func(t *testing.T) {
				m := e.register("twostep")
				secret, _ := e.enrol(m)
				tok := e.challenge(e.mfaToken(m), "code", e.code(secret, 0)).want(t, http.StatusOK, "")["access_token"].(string)
				weak := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
				weak.UserVerified = false
				mu := &user{Name: m.Name, Token: tok}
				wc := e.addPasskey(mu, weak, "no pin")
				e.finishLogin(weak.Get(t, e.loginOptions(m.Name), wc)).want(t, http.StatusUnauthorized, domain.ReasonPasskeyUV)
			})
		})
	}
}

// TestPasskeyLastSignInMethod: a passkey-only account cannot delete its
// last passkey (409 last_sign_in_method, nothing deleted, no mail); with
// a second one it deletes either, and an account with a password deletes
// its only one (TestPasskeys).
func TestPasskeyLastSignInMethod(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyEnv(t, be.URL(t))
			u := e.register("onlykeys")
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			e.addPasskey(u, a, "first")
			e.addPasskey(u, a, "second")
			if _, err := e.SQL().Exec(e.SQL().Rebind(`UPDATE users SET password_hash = ? WHERE username = ?`), domain.NoPassword, u.Name); err != nil {
				t.Fatal(err)
			}
			list := e.do("GET", "/auth/passkeys", nil, u.Token).want(t, http.StatusOK, "")["passkeys"].([]any)
			id := func(i int) string { return strconv.FormatInt(int64(list[i].(map[string]any)["id"].(float64)), 10) }
			if r := e.do("DELETE", "/auth/passkeys/"+id(0), nil, u.Token); r.Status != http.StatusNoContent {
				t.Fatalf("delete with another left: %d %s", r.Status, r.Body)
			}
			e.do("DELETE", "/auth/passkeys/"+id(1), nil, u.Token).want(t, http.StatusConflict, domain.ReasonLastSignInMethod)
			if n := len(e.do("GET", "/auth/passkeys", nil, u.Token).want(t, http.StatusOK, "")["passkeys"].([]any)); n != 1 {
				t.Fatalf("%d passkeys after the refusal", n)
			}
			if e.outboxCount(domain.EmailPasskeyRemoved) != 1 {
				t.Fatal("the refused delete mailed")
			}
		})
	}
}

// TestPasskeysOff: without webauthn.enabled the endpoints answer 404.
func TestPasskeysOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{})
	e.do("POST", "/auth/passkeys/login/begin", map[string]string{}, "").want(t, http.StatusNotFound, domain.ReasonPasskeysOff)
}
