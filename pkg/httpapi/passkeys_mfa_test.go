package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// passkeyMFAEnv is passkeyEnv with authOpts.
func passkeyMFAEnv(t *testing.T, dbURL string, opts account.Options) *env {
	return newEnv(t, dbURL, envConfig{authOpts: opts, config: func(c *config.Config) {
		c.Auth.KeyEncryptionKey = testKEK
		c.WebAuthn.Enabled, c.WebAuthn.RPID, c.WebAuthn.RPName = true, passkeyRPID, "authsvc test"
		c.WebAuthn.Origins = []string{passkeyOrigin}
	}})
}

// passwordStep logs u in with the password and returns the mfa_token and
// the methods offered.
func (e *env) passwordStep(u *user) (string, []string) {
	e.t.Helper()
	m := e.login(u.Name, u.Password).want(e.t, http.StatusOK, "")
	if m["mfa_required"] != true {
		e.t.Fatalf("login of an enrolled account: %v", m)
	}
	var methods []string
	for _, v := range m["methods"].([]any) {
		methods = append(methods, v.(string))
	}
	return m["mfa_token"].(string), methods
}

func (e *env) mfaPasskeyBegin(mfaToken string) *response {
	e.t.Helper()
	return e.do("POST", "/auth/mfa/webauthn/begin", map[string]string{"mfa_token": mfaToken}, "")
}

func (e *env) mfaPasskeyFinish(mfaToken string, answer []byte) *response {
	e.t.Helper()
	return e.do("POST", "/auth/mfa/webauthn/finish", map[string]any{"mfa_token": mfaToken, "credential": json.RawMessage(answer)}, "")
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.SQL().Get(&n, e.SQL().Rebind(query), args...); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestPasskeyMFA: an account with TOTP and a passkey is offered webauthn
// after its password and finishes with the passkey (amr pwd+hwk, or swk
// for a synced one, aal2); the options list only its passkeys; the
// mfa_token is used up; an account without a passkey is not offered it.
func TestPasskeyMFA(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyEnv(t, be.URL(t))
			u := e.register("twofactor")
			e.enrol(u)
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			a.UserVerified = false // a second factor needs no PIN
			cred := e.addPasskey(u, a, "key")
			e.addPasskey(e.register("bystander"), testkit.NewAuthenticator(passkeyOrigin, passkeyRPID), "theirs")

			tok, methods := e.passwordStep(u)
			if !slices.Equal(methods, []string{"totp", "recovery_code", "webauthn"}) {
				t.Fatalf("methods %v", methods)
			}
			opts := e.mfaPasskeyBegin(tok).want(t, http.StatusOK, "")
			allowed := opts["publicKey"].(map[string]any)["allowCredentials"].([]any)
			if len(allowed) != 1 || allowed[0].(map[string]any)["id"] != cred {
				t.Fatalf("allowCredentials %v", allowed)
			}
			answer := a.Get(t, e.mfaPasskeyBegin(tok).Body, cred)
			m := e.mfaPasskeyFinish(tok, answer).want(t, http.StatusOK, "")
			at := m["access_token"].(string)
			if got := amrOf(t, at); !slices.Equal(got, []string{"pwd", "hwk"}) || tokenClaims(t, at)["aal"] != "aal2" {
				t.Fatalf("amr %v aal %v", got, tokenClaims(t, at)["aal"])
			}
			e.do("GET", "/auth/me", nil, at).want(t, http.StatusOK, "")
			e.mfaPasskeyFinish(tok, answer).want(t, http.StatusUnauthorized, domain.ReasonMFAInvalidToken)

			t.Run("a synced passkey is swk", func(t *testing.T) {
				s := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
				s.BackedUp = true
				sc := e.addPasskey(&user{Name: u.Name, Token: at}, s, "synced")
				tok, _ := e.passwordStep(u)
				m := e.mfaPasskeyFinish(tok, s.Get(t, e.mfaPasskeyBegin(tok).Body, sc)).want(t, http.StatusOK, "")
				if got := amrOf(t, m["access_token"].(string)); !slices.Equal(got, []string{"pwd", "swk"}) {
					t.Fatalf("amr %v", got)
				}
			})
			t.Run("without a passkey, no webauthn", func(t *testing.T) {
				o := e.register("codesonly")
				e.enrol(o)
				tok, methods := e.passwordStep(o)
				if slices.Contains(methods, "webauthn") {
					t.Fatalf("methods %v", methods)
				}
				e.mfaPasskeyBegin(tok).want(t, http.StatusBadRequest, domain.ReasonNoPasskey)
			})
			t.Run("a bad or missing mfa_token", func(t *testing.T) {
				e.mfaPasskeyBegin("mfa_nonsense").want(t, http.StatusUnauthorized, domain.ReasonMFAInvalidToken)
				e.mfaPasskeyBegin("").want(t, http.StatusUnprocessableEntity, "")
				e.mfaPasskeyFinish("", answer).want(t, http.StatusUnprocessableEntity, "")
				e.do("POST", "/auth/mfa/webauthn/finish", map[string]any{"mfa_token": "x"}, "").want(t, http.StatusUnprocessableEntity, "")
			})
		})
	}
}

// TestPasskeyMFARefusals: each way the passkey step must fail, with its
// code; every failure is counted toward the account's limit and audited
// (mfa.failed), and a regressed sign count is refused and audited.
func TestPasskeyMFARefusals(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyMFAEnv(t, be.URL(t), account.Options{FailedLoginLimit: 100})
			u := e.register("target")
			e.enrol(u)
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			cred := e.addPasskey(u, a, "key")
			v := e.register("other")
			b := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			vcred := e.addPasskey(v, b, "other's")
			failures := func() int {
				return e.count(`SELECT failures FROM login_failures WHERE username = ?`, u.Name)
			}
			mfaFailed := func() int {
				return e.count(`SELECT COUNT(*) FROM audit_events WHERE event = ? AND target_id = (SELECT id FROM users WHERE username = ?)`,
					domain.AuditMFAFailed, u.Name)
			}
			refuse := func(t *testing.T, answer func(tok string) []byte, status int, reason string) {
				t.Helper()
				tok, _ := e.passwordStep(u)
				before, audited := failures(), mfaFailed()
				e.mfaPasskeyFinish(tok, answer(tok)).want(t, status, reason)
				if failures() != before+1 || mfaFailed() != audited+1 {
					t.Fatalf("failures %d → %d, mfa.failed %d → %d: not counted and audited once", before, failures(), audited, mfaFailed())
				}
			}
			t.Run("another account's passkey", func(t *testing.T) {
				refuse(t, func(tok string) []byte { return b.Get(t, e.mfaPasskeyBegin(tok).Body, vcred) }, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
			})
			t.Run("wrong origin", func(t *testing.T) {
				evil := *a
				evil.Origin = "https://evil.example"
				refuse(t, func(tok string) []byte { return evil.Get(t, e.mfaPasskeyBegin(tok).Body, cred) }, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
			})
			t.Run("a challenge begun for another login's account", func(t *testing.T) {
				e.enrol(v)
				vtok, _ := e.passwordStep(v)
				opts := e.mfaPasskeyBegin(vtok).Body
				refuse(t, func(string) []byte { return a.Get(t, opts, cred) }, http.StatusUnauthorized, domain.ReasonPasskeyChallenge)
			})
			t.Run("a passkey sign-in's challenge", func(t *testing.T) {
				refuse(t, func(string) []byte { return a.Get(t, e.loginOptions(u.Name), cred) }, http.StatusUnauthorized, domain.ReasonPasskeyChallenge)
			})
			t.Run("a sign count that goes backwards", func(t *testing.T) {
				tok, _ := e.passwordStep(u)
				e.mfaPasskeyFinish(tok, a.Get(t, e.mfaPasskeyBegin(tok).Body, cred)).want(t, http.StatusOK, "") // the count is above 0
				cloned := e.count(`SELECT COUNT(*) FROM audit_events WHERE event = ?`, domain.AuditPasskeyCloned)
				refuse(t, func(tok string) []byte { return a.GetWithCount(t, e.mfaPasskeyBegin(tok).Body, cred, 0) }, http.StatusUnauthorized, domain.ReasonPasskeySignCount)
				if n := e.count(`SELECT COUNT(*) FROM audit_events WHERE event = ?`, domain.AuditPasskeyCloned); n != cloned+1 {
					t.Fatalf("%d %s events, want %d", n, domain.AuditPasskeyCloned, cloned+1)
				}
			})
			t.Run("a success clears the count", func(t *testing.T) {
				tok, _ := e.passwordStep(u)
				e.mfaPasskeyFinish(tok, a.Get(t, e.mfaPasskeyBegin(tok).Body, cred)).want(t, http.StatusOK, "")
				if n := e.count(`SELECT COUNT(*) FROM login_failures WHERE username = ? AND failures > 0`, u.Name); n != 0 {
					t.Fatalf("failures left after a success: %d", failures())
				}
			})
		})
	}
}

// TestPasskeyMFALimit: past the account's failed-login limit the passkey
// step is 429, like a code.
func TestPasskeyMFALimit(t *testing.T) {
	t.Parallel()
	e := passkeyMFAEnv(t, storetest.SQLiteURL(t), account.Options{FailedLoginLimit: 3})
	u := e.register("limited")
	e.enrol(u)
	a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
	cred := e.addPasskey(u, a, "key")
	tok, _ := e.passwordStep(u) // one attempt counted (an enrolled account's password)
	evil := *a
	evil.Origin = "https://evil.example"
	for range 2 {
		e.mfaPasskeyFinish(tok, evil.Get(t, e.mfaPasskeyBegin(tok).Body, cred)).want(t, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
	}
	e.mfaPasskeyFinish(tok, a.Get(t, e.mfaPasskeyBegin(tok).Body, cred)).want(t, http.StatusTooManyRequests, "")
}

// TestPasskeyMFARace: concurrent finishes of one login: with one answer
// (one challenge) and with as many answers as finishes (one challenge
// each, an authenticator without a counter so that every answer
// verifies), exactly one gets a token; the others are 401.
func TestPasskeyMFARace(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyMFAEnv(t, be.URL(t), account.Options{FailedLoginLimit: 100})
			u := e.register("racer")
			e.enrol(u)
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			cred := e.addPasskey(u, a, "key")
			for _, distinct := range []bool{false, true} {
				const n = 5 // an mfa_token's attempts
				tok, _ := e.passwordStep(u)
				answers := make([][]byte, n)
				for i := range answers {
					if distinct || i == 0 {
						answers[i] = a.GetWithCount(t, e.mfaPasskeyBegin(tok).Body, cred, 0)
					} else {
						answers[i] = answers[0]
					}
				}
				statuses := make(chan *response, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for _, answer := range answers {
					wg.Go(func() {
						<-start
						statuses <- e.mfaPasskeyFinish(tok, answer)
					})
				}
				close(start)
				wg.Wait()
				close(statuses)
				ok := 0
				for r := range statuses {
					switch r.Status {
					case http.StatusOK:
						ok++
					case http.StatusUnauthorized:
					default:
						t.Errorf("status %d %s", r.Status, r.Body)
					}
				}
				if ok != 1 {
					t.Fatalf("distinct challenges %t: %d of %d concurrent finishes got a token, want 1", distinct, ok, n)
				}
			}
		})
	}
}

// postJSON posts a JSON body as passkey.js does: the form token in
// X-CSRF-Token (csrf "" sends none).
func (b *browser) postJSON(path string, body any, csrf string) *response {
	b.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		b.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", b.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	return b.send(req)
}

// TestPagesMFAPasskey: the hosted page's second step offers "Use a
// passkey" to an account with one (not to one without), and the passkey's
// answer signs the browser in at aal2 (amr pwd+hwk); the post needs the
// form token.
func TestPagesMFAPasskey(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyEnv(t, be.URL(t))
			u := e.register("pagemfa")
			e.enrol(u)
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			cred := e.addPasskey(u, a, "key")

			b := newBrowser(t, e)
			b.get("/signin")
			r := b.post("/signin", url.Values{"username": {u.Name}, "password": {u.Password}})
			wantStatus(t, r, http.StatusOK, `id="passkey-mfa"`)
			m := mfaField.FindSubmatch(r.Body)
			if m == nil {
				t.Fatal("no mfa_token field")
			}
			tok := string(m[1])
			answer := a.Get(t, e.mfaPasskeyBegin(tok).Body, cred)
			if r := b.postJSON("/signin/mfa/passkey", map[string]any{"credential": json.RawMessage(answer), "mfa_token": tok}, ""); r.Status != http.StatusForbidden {
				t.Fatalf("without the form token: %d %s", r.Status, r.Body)
			}
			r = b.postJSON("/signin/mfa/passkey", map[string]any{"credential": json.RawMessage(answer), "mfa_token": tok}, b.csrf)
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"next":"/account"`) {
				t.Fatalf("passkey step: %d %s", r.Status, r.Body)
			}
			p, err := e.Auth.Authenticate(context.Background(), b.session())
			if err != nil || p.Claims.AAL != domain.AAL2 || !slices.Equal(p.Claims.AMR, []string{"pwd", "hwk"}) {
				t.Fatalf("browser session after the passkey step: %v %+v", err, p)
			}

			o := e.register("pagecodes")
			e.enrol(o)
			nb := newBrowser(t, e)
			nb.get("/signin")
			r = nb.post("/signin", url.Values{"username": {o.Name}, "password": {o.Password}})
			if r.Status != http.StatusOK || strings.Contains(string(r.Body), "passkey-mfa") {
				t.Fatalf("an account without a passkey: %d %s", r.Status, r.Body)
			}
		})
	}
}
