package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// signUpWithPasskey creates a passkey-only account through the API with a
// new passkey of a and returns it (Token signed in) and the credential id.
func (e *env) signUpWithPasskey(name string, a *testkit.Authenticator) (*user, string) {
	e.t.Helper()
	u := &user{Name: name, Email: name + "@example.com"}
	opts := e.do("POST", "/auth/passkeys/signup/begin", map[string]string{"username": u.Name, "email": u.Email}, "")
	if opts.Status != http.StatusOK {
		e.t.Fatalf("signup/begin: %d %s", opts.Status, opts.Body)
	}
	answer, cred := a.Create(e.t, opts.Body)
	m := e.do("POST", "/auth/passkeys/signup/finish", map[string]any{"name": "phone", "credential": json.RawMessage(answer)}, "").
		want(e.t, http.StatusCreated, "")
	if m["username"] != name {
		e.t.Fatalf("signed up %v", m)
	}
	u.Token = m["access_token"].(string)
	e.secret(u.Token)
	row, err := e.DB.UserByUsername(e.t.Context(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	u.ID = row.ID
	return u, cred
}

func (e *env) passkeyIDs(tok string) []string {
	e.t.Helper()
	var ids []string
	for _, k := range e.do("GET", "/auth/passkeys", nil, tok).want(e.t, http.StatusOK, "")["passkeys"].([]any) {
		ids = append(ids, strconv.FormatInt(int64(k.(map[string]any)["id"].(float64)), 10))
	}
	return ids
}

// TestPasskeySignUp: a sign-up with a passkey creates an account with no
// password and that passkey (signed in: amr hwk+user, aal2; welcome and
// verification mails; audited), which then signs in with the passkey,
// with or without its username, and never with a password.
func TestPasskeySignUp(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyEnv(t, be.URL(t))
			e.register("first") // ids of password and passkey accounts interleave
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			u, cred := e.signUpWithPasskey("keyonly", a)
			e.register("third")
			if got := amrOf(t, u.Token); !slices.Equal(got, []string{"hwk", "user"}) || tokenClaims(t, u.Token)["aal"] != "aal2" {
				t.Fatalf("sign-up token: amr %v aal %v", got, tokenClaims(t, u.Token)["aal"])
			}
			e.do("GET", "/auth/me", nil, u.Token).want(t, http.StatusOK, "")
			if n := e.count(`SELECT COUNT(*) FROM users WHERE username = ? AND password_hash = ''`, u.Name); n != 1 {
				t.Fatalf("%d passwordless rows", n)
			}
			if len(e.passkeyIDs(u.Token)) != 1 {
				t.Fatal("the sign-up's passkey is not listed")
			}
			if e.outboxCount(domain.EmailWelcome) != 3 || e.outboxCount(domain.EmailVerify) != 3 {
				t.Fatalf("mails: %d welcome, %d verify", e.outboxCount(domain.EmailWelcome), e.outboxCount(domain.EmailVerify))
			}
			for _, ev := range []string{domain.AuditRegistered, domain.AuditPasskeyAdded} {
				if n := e.count(`SELECT COUNT(*) FROM audit_events WHERE event = ? AND target_id = ? AND actor_id = ?`, ev, u.ID, u.ID); n != 1 {
					t.Fatalf("%d %s events of the sign-up", n, ev)
				}
			}
			for _, username := range []string{u.Name, ""} {
				m := e.finishLogin(a.Get(t, e.loginOptions(username), cred)).want(t, http.StatusOK, "")
				if tokenClaims(t, m["access_token"].(string))["sub"] != strconv.FormatInt(u.ID, 10) {
					t.Fatalf("signed in as %v", tokenClaims(t, m["access_token"].(string))["sub"])
				}
			}
			e.login(u.Name, "any-Password-1").want(t, http.StatusUnauthorized, domain.ReasonInvalidCredentials)
			e.login(u.Name, "").want(t, http.StatusUnprocessableEntity, "")
		})
	}
}

// TestPasskeySignUpRefusals: a sign-up that cannot be creates nothing: a
// taken or malformed name is refused before the ceremony, an answer that
// does not verify or replays a challenge leaves no account and no
// passkey, and of two sign-ups for one name racing to finish one wins.
func TestPasskeySignUpRefusals(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyEnv(t, be.URL(t))
			taken := e.register("taken")
			begin := func(username, email string) *response {
				return e.do("POST", "/auth/passkeys/signup/begin", map[string]string{"username": username, "email": email}, "")
			}
			finish := func(answer []byte) *response {
				return e.do("POST", "/auth/passkeys/signup/finish", map[string]any{"credential": json.RawMessage(answer)}, "")
			}
			begin(taken.Name, "new@example.com").want(t, http.StatusConflict, domain.ReasonUsernameTaken)
			begin("newname", taken.Email).want(t, http.StatusConflict, domain.ReasonEmailTaken)
			begin("x", "not-an-email").want(t, http.StatusUnprocessableEntity, "")
			begin("", "").want(t, http.StatusUnprocessableEntity, "")
			finish(nil).want(t, http.StatusUnprocessableEntity, "")
			e.do("POST", "/auth/passkeys/signup/finish", map[string]any{"name": "\x01", "credential": map[string]any{}}, "").
				want(t, http.StatusUnprocessableEntity, "")

			users := func() int { return e.count(`SELECT COUNT(*) FROM users`) }
			keys := func() int { return e.count(`SELECT COUNT(*) FROM webauthn_credentials`) }
			before, beforeKeys := users(), keys()
			t.Run("wrong origin", func(t *testing.T) {
				evil := testkit.NewAuthenticator("https://evil.example", passkeyRPID)
				answer, _ := evil.Create(t, begin("ghost", "ghost@example.com").Body)
				finish(answer).want(t, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
			})
			t.Run("wrong RP ID", func(t *testing.T) {
				evil := testkit.NewAuthenticator(passkeyOrigin, "evil.example")
				answer, _ := evil.Create(t, begin("ghost", "ghost@example.com").Body)
				finish(answer).want(t, http.StatusUnauthorized, domain.ReasonPasskeyInvalid)
			})
			t.Run("an expired challenge", func(t *testing.T) {
				opts := begin("ghost", "ghost@example.com").Body
				e.Clock.Advance(domain.PasskeyChallengeTTL + time.Second)
				answer, _ := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID).Create(t, opts)
				finish(answer).want(t, http.StatusUnauthorized, domain.ReasonPasskeyChallenge)
			})
			t.Run("a registration challenge of a signed-in user", func(t *testing.T) {
				opts := e.do("POST", "/auth/passkeys/register/begin", map[string]string{}, e.login(taken.Name, taken.Password).json(t)["access_token"].(string))
				answer, _ := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID).Create(t, opts.Body)
				finish(answer).want(t, http.StatusUnauthorized, domain.ReasonPasskeyChallenge)
			})
			if users() != before || keys() != beforeKeys {
				t.Fatalf("refused sign-ups left %d users and %d passkeys behind", users()-before, keys()-beforeKeys)
			}
			t.Run("a replayed answer", func(t *testing.T) {
				answer, _ := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID).Create(t, begin("once", "once@example.com").Body)
				finish(answer).want(t, http.StatusCreated, "")
				finish(answer).want(t, http.StatusUnauthorized, domain.ReasonPasskeyChallenge)
			})
			t.Run("two sign-ups of one name race", func(t *testing.T) {
				var answers [][]byte
				for _, email := range []string{"racer1@example.com", "racer2@example.com"} {
					answer, _ := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID).Create(t, begin("racer", email).Body)
					answers = append(answers, answer)
				}
				statuses := make([]int, len(answers))
				var wg sync.WaitGroup
				for i, answer := range answers {
					wg.Go(func() { statuses[i] = finish(answer).Status })
				}
				wg.Wait()
				slices.Sort(statuses)
				if !slices.Equal(statuses, []int{http.StatusCreated, http.StatusConflict}) {
					t.Fatalf("statuses %v, want one 201 and one 409", statuses)
				}
				if n := e.count(`SELECT COUNT(*) FROM webauthn_credentials k JOIN users u ON u.id = k.user_id WHERE u.username = 'racer'`); n != 1 {
					t.Fatalf("%d passkeys of racer", n)
				}
				if n := keys(); n != beforeKeys+2 { // once's and racer's
					t.Fatalf("%d passkeys, want %d: the losing sign-up left one", n, beforeKeys+2)
				}
			})
		})
	}
}

// TestPasswordlessAccount: every place that asks for a password behaves
// for an account that has none: no password to change (400 no_password,
// a reset sets one), a recent sign-in stands in for the password when
// adding a passkey or deleting the account (400 recent_sign_in_required
// once it is old), and its last passkey stays (409).
func TestPasswordlessAccount(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := passkeyEnv(t, be.URL(t))
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			u, cred := e.signUpWithPasskey("nopass", a)
			path := "/auth/users/" + u.Name

			e.do("PUT", path+"/password", map[string]string{"new_password": "A-new-Password-9"}, u.Token).
				want(t, http.StatusBadRequest, domain.ReasonNoPassword)
			e.do("PUT", path+"/password", map[string]string{"current_password": "guess", "new_password": "A-new-Password-9"}, u.Token).
				want(t, http.StatusBadRequest, domain.ReasonNoPassword)
			// A recent sign-in adds a passkey; an old one cannot, having no password to give.
			e.addPasskey(u, a, "second")
			e.Clock.Advance(domain.RecentSignIn + time.Minute)
			e.do("POST", "/auth/passkeys/register/begin", map[string]string{}, u.Token).want(t, http.StatusBadRequest, domain.ReasonRecentSignIn)
			e.do("POST", "/auth/passkeys/register/begin", map[string]string{"password": "guess"}, u.Token).want(t, http.StatusBadRequest, domain.ReasonRecentSignIn)
			e.do("DELETE", path, map[string]string{}, u.Token).want(t, http.StatusBadRequest, domain.ReasonRecentSignIn)

			// The last way to sign in, raced: of two concurrent deletes of
			// its two passkeys one is refused.
			ids := e.passkeyIDs(u.Token)
			statuses := make([]int, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() { statuses[i] = e.do("DELETE", "/auth/passkeys/"+id, nil, u.Token).Status })
			}
			wg.Wait()
			slices.Sort(statuses)
			if !slices.Equal(statuses, []int{http.StatusNoContent, http.StatusConflict}) {
				t.Fatalf("concurrent deletes of the last two passkeys: %v", statuses)
			}
			last := e.passkeyIDs(u.Token)
			e.do("DELETE", "/auth/passkeys/"+last[0], nil, u.Token).want(t, http.StatusConflict, domain.ReasonLastSignInMethod)

			// A password reset sets a password; then the passkey may go. (The
			// email is verified first: a reset of an account whose email was
			// never verified claims it and removes its passkeys,
			// TestResetClaimsAnUnverifiedAccount.)
			if _, err := e.SQL().Exec(e.SQL().Rebind(`UPDATE users SET email_verified_at = ? WHERE username = ?`), time.Now().UTC(), u.Name); err != nil {
				t.Fatal(err)
			}
			e.do("POST", "/auth/password-reset-request", map[string]string{"email": u.Email}, "").want(t, http.StatusOK, "")
			e.do("POST", "/auth/reset-password", map[string]string{"token": e.lastResetToken(u), "new_password": "Reset-Password-42"}, "").
				want(t, http.StatusOK, "")
			u.Password = "Reset-Password-42"
			tok := e.login(u.Name, u.Password).want(t, http.StatusOK, "")["access_token"].(string)
			if r := e.do("DELETE", "/auth/passkeys/"+last[0], nil, tok); r.Status != http.StatusNoContent {
				t.Fatalf("delete once a password is set: %d %s", r.Status, r.Body)
			}
			_ = cred
		})
	}
}

// TestPasswordlessDeleteAccount: a passkey-only account deletes itself
// right after signing in with its passkey (no password to give).
func TestPasswordlessDeleteAccount(t *testing.T) {
	t.Parallel()
	e := passkeyEnv(t, storetest.SQLiteURL(t))
	a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
	u, cred := e.signUpWithPasskey("leaving", a)
	e.Clock.Advance(domain.RecentSignIn + time.Minute)
	tok := e.finishLogin(a.Get(t, e.loginOptions(u.Name), cred)).want(t, http.StatusOK, "")["access_token"].(string)
	e.do("DELETE", "/auth/users/"+u.Name, map[string]string{}, tok).want(t, http.StatusOK, "")
	if n := e.count(`SELECT COUNT(*) FROM users WHERE username = ?`, u.Name); n != 0 {
		t.Fatal("not deleted")
	}
}

// TestPagesSignUpPasskey: with oidc.allow_sign_up the hosted sign-up page
// offers a passkey instead of a password; its two posts (with the form
// token) create the passkey-only account and sign the browser in. Without
// the setting both are 404.
func TestPagesSignUpPasskey(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, be.URL(t), envConfig{config: func(c *config.Config) {
				c.Auth.KeyEncryptionKey = testKEK
				c.WebAuthn.Enabled, c.WebAuthn.RPID, c.WebAuthn.RPName = true, passkeyRPID, "authsvc test"
				c.WebAuthn.Origins = []string{passkeyOrigin}
				c.OIDC.AllowSignUp = true
			}})
			taken := e.register("taken")
			b := newBrowser(t, e)
			wantStatus(t, b.get("/signup"), http.StatusOK, `id="passkey-signup"`)
			if r := b.postJSON("/signup/passkey/begin", map[string]string{"username": "pagekey", "email": "pagekey@example.com"}, ""); r.Status != http.StatusForbidden {
				t.Fatalf("without the form token: %d %s", r.Status, r.Body)
			}
			wantStatus(t, b.postJSON("/signup/passkey/begin", map[string]string{"username": taken.Name, "email": "x@example.com"}, b.csrf),
				http.StatusUnauthorized, domain.MsgUsernameTaken)
			r := b.postJSON("/signup/passkey/begin", map[string]string{"username": "pagekey", "email": "pagekey@example.com"}, b.csrf)
			if r.Status != http.StatusOK {
				t.Fatalf("begin: %d %s", r.Status, r.Body)
			}
			a := testkit.NewAuthenticator(passkeyOrigin, passkeyRPID)
			answer, _ := a.Create(t, r.Body)
			r = b.postJSON("/signup/passkey", map[string]any{"credential": json.RawMessage(answer)}, b.csrf)
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"next":"/account"`) {
				t.Fatalf("finish: %d %s", r.Status, r.Body)
			}
			p, err := e.Auth.Authenticate(t.Context(), b.session())
			if err != nil || p.User.Username != "pagekey" || p.User.HasPassword() {
				t.Fatalf("browser session after the sign-up: %v %+v", err, p)
			}
			wantStatus(t, b.get("/account"), http.StatusOK, "pagekey")

			off := passkeyEnv(t, be.URL(t))
			ob := newBrowser(t, off)
			ob.get("/signin")
			if r := ob.postJSON("/signup/passkey/begin", map[string]string{"username": "x", "email": "x@example.com"}, ob.csrf); r.Status != http.StatusNotFound {
				t.Fatalf("sign-up off: %d %s", r.Status, r.Body)
			}
		})
	}
}
