package federation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestSignInThroughAnOpenIDProvider runs the API flow against mockoidc:
// the first sign-in makes an account without a password, the next signs
// in to the same one, and a code is good once, with its verifier only.
func TestSignInThroughAnOpenIDProvider(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			m := newMock(t)
			s := newAuthsvc(t, listen(t), be.URL(t), withProviders(mockProvider(m)))

			var list struct {
				Providers []domain.ProviderInfo `json:"providers"`
			}
			if status, raw := s.call(t, http.MethodGet, "/auth/providers", "", nil, &list); status != http.StatusOK ||
				len(list.Providers) != 1 || list.Providers[0] != (domain.ProviderInfo{Name: "mock", Label: "Mock", Kind: "oidc"}) {
				t.Fatalf("GET /auth/providers: %d %s", status, raw)
			}

			m.QueueUser(&mockoidc.MockUser{Subject: "sub-jane", Email: "Jane@Example.com", EmailVerified: true, PreferredUsername: "jane"})
			code, verifier := s.signIn(t, "mock")
			status, raw, tok := s.exchange(t, code, verifier)
			if status != http.StatusOK || tok.AccessToken == "" {
				t.Fatalf("exchange: %d %s", status, raw)
			}
			if c := readClaims(t, tok.AccessToken); !slices.Equal(c.AMR, []string{"fed"}) || c.AAL != "" {
				t.Errorf("amr %v aal %q, want [fed] and none", c.AMR, c.AAL)
			}
			if name, email := s.me(t, tok.AccessToken); name != "jane" || email != "jane@example.com" {
				t.Errorf("new account %q %q, want jane jane@example.com", name, email)
			}
			u, err := s.Stack.Auth.UserByUsername(context.Background(), "jane")
			if err != nil || u.HasPassword() || !u.EmailVerified() {
				t.Fatalf("jane: %+v %v; want no password and a verified email", u, err)
			}

			t.Run("the code is good once", func(t *testing.T) {
				if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusBadRequest || reason(raw) != "invalid_code" {
					t.Errorf("second exchange: %d %s, want 400 invalid_code", status, raw)
				}
			})
			t.Run("a code without its verifier is refused and used up", func(t *testing.T) {
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-jane", Email: "jane@example.com", EmailVerified: true})
				code, verifier := s.signIn(t, "mock")
				if status, raw, _ := s.exchange(t, code, ""); status != http.StatusUnprocessableEntity {
					t.Errorf("no verifier: %d %s, want 422", status, raw)
				}
				other, _ := pkce()
				if status, raw, _ := s.exchange(t, code, other); status != http.StatusBadRequest || reason(raw) != "invalid_code_verifier" {
					t.Errorf("another verifier: %d %s, want 400 invalid_code_verifier", status, raw)
				}
				if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusBadRequest || reason(raw) != "invalid_code" {
					t.Errorf("the right verifier after a wrong one: %d %s, want 400 invalid_code", status, raw)
				}
			})
			t.Run("the next sign-in is the same account", func(t *testing.T) {
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-jane", Email: "jane@example.com", EmailVerified: true, PreferredUsername: "other"})
				code, verifier := s.signIn(t, "mock")
				status, raw, tok := s.exchange(t, code, verifier)
				if status != http.StatusOK {
					t.Fatalf("exchange: %d %s", status, raw)
				}
				if name, _ := s.me(t, tok.AccessToken); name != "jane" {
					t.Errorf("signed in as %q, want jane", name)
				}
				var ids struct {
					Identities []domain.Identity `json:"identities"`
				}
				if status, raw := s.call(t, http.MethodGet, "/auth/identities", tok.AccessToken, nil, &ids); status != http.StatusOK ||
					len(ids.Identities) != 1 || ids.Identities[0].Provider != "mock" || ids.Identities[0].Subject != "sub-jane" ||
					ids.Identities[0].Email != "jane@example.com" || !ids.Identities[0].EmailVerified {
					t.Errorf("identities: %d %s", status, raw)
				}
			})
			t.Run("the identity's email is refreshed only when verified", func(t *testing.T) {
				email := func() string {
					var e string
					if err := storetest.SQLFor(t, s.dbURL).Get(&e, `SELECT email FROM user_identities WHERE subject = 'sub-jane'`); err != nil {
						t.Fatal(err)
					}
					return e
				}
				for _, c := range []struct {
					email    string
					verified bool
					want     string
				}{{"jane@elsewhere.example", false, "jane@example.com"}, {"jane@new.example", true, "jane@new.example"}} {
					m.QueueUser(&mockoidc.MockUser{Subject: "sub-jane", Email: c.email, EmailVerified: c.verified})
					code, verifier := s.signIn(t, "mock")
					status, raw, tok := s.exchange(t, code, verifier)
					if status != http.StatusOK {
						t.Fatalf("exchange: %d %s", status, raw)
					}
					if got := email(); got != c.want {
						t.Errorf("after %s (verified %t): the identity's email is %q, want %q", c.email, c.verified, got, c.want)
					}
					if _, acct := s.me(t, tok.AccessToken); acct != "jane@example.com" {
						t.Errorf("the account's email changed to %q", acct)
					}
				}
			})
			t.Run("two first sign-ins of one identity at once: one account", func(t *testing.T) {
				codes := make([][2]string, 2)
				for i := range codes {
					m.QueueUser(&mockoidc.MockUser{Subject: "sub-twice", Email: "twice@example.com", EmailVerified: true})
					codes[i][0], codes[i][1] = s.signIn(t, "mock")
				}
				subs := make([]string, 2)
				var wg sync.WaitGroup
				for i, c := range codes {
					wg.Go(func() {
						if status, raw, tok := s.exchange(t, c[0], c[1]); status == http.StatusOK {
							subs[i] = readClaims(t, tok.AccessToken).Sub
						} else {
							t.Errorf("exchange %d: %d %s", i, status, raw)
						}
					})
				}
				wg.Wait()
				if subs[0] == "" || subs[0] != subs[1] {
					t.Errorf("signed in as users %q and %q, want one account", subs[0], subs[1])
				}
			})
			t.Run("concurrent exchanges of one code: one wins", func(t *testing.T) {
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-jane", Email: "jane@example.com", EmailVerified: true})
				code, verifier := s.signIn(t, "mock")
				statuses := race(8, func() int { st, _, _ := s.exchange(t, code, verifier); return st })
				if n := count(statuses, http.StatusOK); n != 1 || count(statuses, http.StatusBadRequest) != 7 {
					t.Errorf("statuses %v: want one 200 and seven 400", statuses)
				}
			})
		})
	}
}

// TestLinkingRules: an email match links only when both sides verified it;
// otherwise 409 identity_exists and nothing is linked. Signed-in users link
// and unlink, never their last way to sign in.
func TestLinkingRules(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			m, m2 := newMock(t), newMock(t)
			second := mockProvider(m2)
			second.Name, second.Label = "second", "Second"
			s := newAuthsvc(t, listen(t), be.URL(t), withProviders(mockProvider(m), second))
			ctx := context.Background()
			db := storetest.SQLFor(t, s.dbURL)
			register := func(name string, verified bool) {
				t.Helper()
				if _, _, err := s.Stack.Auth.Register(ctx, domain.Registration{Username: name, Email: name + "@example.com",
					Password: "correct horse " + name}); err != nil {
					t.Fatal(err)
				}
				if verified {
					if _, err := db.Exec(db.Rebind(`UPDATE users SET email_verified_at = ? WHERE username = ?`), time.Now().UTC(), name); err != nil {
						t.Fatal(err)
					}
				}
			}
			identities := func(name string) int {
				t.Helper()
				var n int
				if err := db.Get(&n, db.Rebind(`SELECT COUNT(*) FROM user_identities i JOIN users u ON u.id = i.user_id WHERE u.username = ?`), name); err != nil {
					t.Fatal(err)
				}
				return n
			}

			t.Run("an unverified account is not taken over by a verified provider email", func(t *testing.T) {
				register("alice", false)
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-alice", Email: "alice@example.com", EmailVerified: true})
				code, verifier := s.signIn(t, "mock")
				if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusConflict || reason(raw) != "identity_exists" {
					t.Errorf("exchange: %d %s, want 409 identity_exists", status, raw)
				}
				if identities("alice") != 0 {
					t.Error("an identity was linked to alice")
				}
			})
			t.Run("an unverified provider email does not take over a verified account", func(t *testing.T) {
				register("bob", true)
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-bob", Email: "bob@example.com", EmailVerified: false})
				code, verifier := s.signIn(t, "mock")
				if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusConflict || reason(raw) != "identity_exists" {
					t.Errorf("exchange: %d %s, want 409 identity_exists", status, raw)
				}
				if identities("bob") != 0 {
					t.Error("an identity was linked to bob")
				}
			})
			t.Run("both verified: the sign-in links the account", func(t *testing.T) {
				register("carol", true)
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-carol", Email: "carol@example.com", EmailVerified: true})
				code, verifier := s.signIn(t, "mock")
				status, raw, tok := s.exchange(t, code, verifier)
				if status != http.StatusOK {
					t.Fatalf("exchange: %d %s", status, raw)
				}
				if name, _ := s.me(t, tok.AccessToken); name != "carol" || identities("carol") != 1 {
					t.Errorf("signed in as %q with %d identities, want carol with 1", name, identities("carol"))
				}
			})
			t.Run("a signed-in user links a provider, and it is theirs alone", func(t *testing.T) {
				register("dave", false)
				tok, err := s.Stack.Auth.Login(ctx, "dave", "correct horse dave")
				if err != nil {
					t.Fatal(err)
				}
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-dave", Email: "dave.elsewhere@example.org"})
				if status, raw := s.link(t, tok.Token, "mock"); status != http.StatusOK || !strings.Contains(raw, `"provider":"mock"`) {
					t.Fatalf("link: %d %s", status, raw)
				}
				if identities("dave") != 1 {
					t.Fatal("not linked")
				}
				// The same provider account, linked by another user: refused.
				other, err := s.Stack.Auth.Login(ctx, "alice", "correct horse alice")
				if err != nil {
					t.Fatal(err)
				}
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-dave", Email: "dave.elsewhere@example.org"})
				if status, raw := s.link(t, other.Token, "mock"); status != http.StatusConflict || reason(raw) != "identity_taken" {
					t.Errorf("linking another user's identity: %d %s, want 409 identity_taken", status, raw)
				}
				if identities("alice") != 0 {
					t.Error("alice got dave's identity")
				}
				// A link URL sent to someone else links nothing: its code goes
				// to the app in that person's browser, and only the user who
				// started the link, with the app's verifier, may redeem it.
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-victim", Email: "victim@example.org"})
				authURL, verifier := s.linkStart(t, other.Token, "mock")
				q := arrive(t, browser(t), authURL) // the victim's browser
				if status, raw := s.linkExchange(t, tok.Token, q.Get("code"), verifier); status != http.StatusBadRequest ||
					reason(raw) != "invalid_code" {
					t.Errorf("the code redeemed by another user: %d %s, want 400 invalid_code", status, raw)
				}
				if status, raw, _ := s.exchange(t, q.Get("code"), verifier); status != http.StatusBadRequest {
					t.Errorf("a link's code at the sign-in exchange: %d %s, want 400", status, raw)
				}
				if identities("alice")+identities("dave") != 1 {
					t.Error("the victim's identity was linked")
				}
				// Now the provider signs dave in, with no email match needed.
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-dave", Email: "dave.elsewhere@example.org"})
				code, verifier := s.signIn(t, "mock")
				status, raw, signed := s.exchange(t, code, verifier)
				if status != http.StatusOK {
					t.Fatalf("exchange: %d %s", status, raw)
				}
				if name, email := s.me(t, signed.AccessToken); name != "dave" || email != "dave@example.com" {
					t.Errorf("signed in as %q %q, want dave with his own email unchanged", name, email)
				}
				// dave has a password: the identity may go.
				var ids struct {
					Identities []domain.Identity `json:"identities"`
				}
				s.call(t, http.MethodGet, "/auth/identities", tok.Token, nil, &ids)
				if len(ids.Identities) != 1 {
					t.Fatalf("identities: %+v", ids)
				}
				path := "/auth/identities/" + strconv.FormatInt(ids.Identities[0].ID, 10)
				if status, raw := s.call(t, http.MethodDelete, path, other.Token, nil, nil); status != http.StatusNotFound {
					t.Errorf("alice unlinking dave's identity: %d %s, want 404", status, raw)
				}
				if status, raw := s.call(t, http.MethodDelete, path, tok.Token, nil, nil); status != http.StatusNoContent {
					t.Errorf("unlink: %d %s", status, raw)
				}
			})
			t.Run("the last way to sign in stays; of two, concurrent unlinks remove one", func(t *testing.T) {
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-erin", Email: "erin@example.net", EmailVerified: true, PreferredUsername: "erin"})
				code, verifier := s.signIn(t, "mock")
				status, raw, tok := s.exchange(t, code, verifier)
				if status != http.StatusOK {
					t.Fatalf("exchange: %d %s", status, raw)
				}
				var ids struct {
					Identities []domain.Identity `json:"identities"`
				}
				s.call(t, http.MethodGet, "/auth/identities", tok.AccessToken, nil, &ids)
				first := "/auth/identities/" + strconv.FormatInt(ids.Identities[0].ID, 10)
				if status, raw := s.call(t, http.MethodDelete, first, tok.AccessToken, nil, nil); status != http.StatusConflict ||
					reason(raw) != "last_sign_in_method" {
					t.Errorf("unlinking the only way in: %d %s, want 409 last_sign_in_method", status, raw)
				}
				// A second provider, linked with the recent sign-in.
				m2.QueueUser(&mockoidc.MockUser{Subject: "sub-erin-2", Email: "erin@example.net", EmailVerified: true})
				if status, raw := s.link(t, tok.AccessToken, "second"); status != http.StatusOK {
					t.Fatalf("link: %d %s", status, raw)
				}
				s.call(t, http.MethodGet, "/auth/identities", tok.AccessToken, nil, &ids)
				if len(ids.Identities) != 2 {
					t.Fatalf("identities: %+v", ids)
				}
				statuses := make([]int, 2)
				var wg sync.WaitGroup
				for i, id := range ids.Identities {
					wg.Go(func() {
						statuses[i], _ = s.call(t, http.MethodDelete, "/auth/identities/"+strconv.FormatInt(id.ID, 10), tok.AccessToken, nil, nil)
					})
				}
				wg.Wait()
				if count(statuses, http.StatusNoContent) != 1 || count(statuses, http.StatusConflict) != 1 {
					t.Errorf("concurrent unlinks of the last two: %v, want one 204 and one 409", statuses)
				}
				if identities("erin") != 1 {
					t.Errorf("erin has %d identities, want 1", identities("erin"))
				}
			})
			t.Run("a deleted account does not come back", func(t *testing.T) {
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-frank", Email: "frank@example.net", EmailVerified: true, PreferredUsername: "frank"})
				code, verifier := s.signIn(t, "mock")
				if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusOK {
					t.Fatalf("exchange: %d %s", status, raw)
				}
				// A flow begun before the deletion finishes after it.
				m.QueueUser(&mockoidc.MockUser{Subject: "sub-frank", Email: "frank@example.net", EmailVerified: true, PreferredUsername: "frank"})
				code, verifier = s.signIn(t, "mock")
				old, err := s.Stack.Auth.UserByUsername(ctx, "frank")
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Stack.Auth.DeleteUser(ctx, "frank"); err != nil {
					t.Fatal(err)
				}
				status, raw, tok := s.exchange(t, code, verifier)
				if status != http.StatusOK {
					t.Fatalf("exchange: %d %s", status, raw)
				}
				if sub := readClaims(t, tok.AccessToken).Sub; sub == "" || sub == strconv.FormatInt(old.ID, 10) {
					t.Errorf("signed in as user %q; the deleted account was %d: it must not come back", sub, old.ID)
				}
			})
		})
	}
}

// TestMFAAfterAFederatedSignIn: an account with TOTP still asks for it
// after a provider, unless the provider is trusted for MFA and reported a
// second factor.
func TestMFAAfterAFederatedSignIn(t *testing.T) {
	t.Parallel()
	m, trusted := newMock(t), newMock(t)
	tp := mockProvider(trusted)
	tp.Name, tp.TrustMFA = "trusted", true
	s := newAuthsvc(t, listen(t), storetest.SQLiteURL(t), withProviders(mockProvider(m), tp))
	ctx := context.Background()
	if _, _, err := s.Stack.Auth.Register(ctx, domain.Registration{Username: "grace", Email: "grace@example.com", Password: "correct horse grace"}); err != nil {
		t.Fatal(err)
	}
	link := func(mock *mockoidc.MockOIDC, provider, subject string) {
		t.Helper()
		tok, err := s.Stack.Auth.Login(ctx, "grace", "correct horse grace")
		if err != nil {
			t.Fatal(err)
		}
		mock.QueueUser(&mockoidc.MockUser{Subject: subject, Email: "grace@example.com"})
		if status, raw := s.link(t, tok.Token, provider); status != http.StatusOK {
			t.Fatalf("link: %d %s", status, raw)
		}
	}
	link(m, "mock", "sub-grace")
	link(trusted, "trusted", "sub-grace-t")
	secret := testkit.EnrolTOTP(t, s.Stack.Auth, "grace", "correct horse grace")

	t.Run("the second factor is asked, and the amr starts with fed", func(t *testing.T) {
		m.QueueUser(&mockoidc.MockUser{Subject: "sub-grace", Email: "grace@example.com"})
		code, verifier := s.signIn(t, "mock")
		status, raw, tok := s.exchange(t, code, verifier)
		if status != http.StatusOK || !tok.MFARequired || tok.AccessToken != "" {
			t.Fatalf("exchange: %d %s, want mfa_required", status, raw)
		}
		var done tokenResponse
		if status, raw := s.call(t, http.MethodPost, "/auth/mfa/challenge", "", map[string]string{"mfa_token": tok.MFAToken,
			"code": testkit.NextTOTPCode(t, secret)}, &done); status != http.StatusOK {
			t.Fatalf("challenge: %d %s", status, raw)
		}
		if c := readClaims(t, done.AccessToken); !slices.Equal(c.AMR, []string{"fed", "otp"}) || c.AAL != "aal2" {
			t.Errorf("amr %v aal %q, want [fed otp] aal2", c.AMR, c.AAL)
		}
	})
	t.Run("a trusted provider's second factor stands in for TOTP", func(t *testing.T) {
		trusted.QueueUser(&amrUser{MockUser: mockoidc.MockUser{Subject: "sub-grace-t", Email: "grace@example.com"}, amr: []string{"pwd", "mfa"}})
		code, verifier := s.signIn(t, "trusted")
		status, raw, tok := s.exchange(t, code, verifier)
		if status != http.StatusOK || tok.MFARequired {
			t.Fatalf("exchange: %d %s, want a token", status, raw)
		}
		if c := readClaims(t, tok.AccessToken); !slices.Equal(c.AMR, []string{"fed", "pwd", "mfa"}) || c.AAL != "aal2" {
			t.Errorf("amr %v aal %q, want [fed pwd mfa] aal2", c.AMR, c.AAL)
		}
	})
	t.Run("a trusted provider without a second factor: TOTP is asked", func(t *testing.T) {
		trusted.QueueUser(&amrUser{MockUser: mockoidc.MockUser{Subject: "sub-grace-t", Email: "grace@example.com"}, amr: []string{"pwd"}})
		code, verifier := s.signIn(t, "trusted")
		if status, raw, tok := s.exchange(t, code, verifier); status != http.StatusOK || !tok.MFARequired {
			t.Fatalf("exchange: %d %s, want mfa_required", status, raw)
		}
	})
	t.Run("an untrusted provider's amr is not believed", func(t *testing.T) {
		m.QueueUser(&amrUser{MockUser: mockoidc.MockUser{Subject: "sub-grace", Email: "grace@example.com"}, amr: []string{"pwd", "mfa"}})
		code, verifier := s.signIn(t, "mock")
		if status, raw, tok := s.exchange(t, code, verifier); status != http.StatusOK || !tok.MFARequired {
			t.Fatalf("exchange: %d %s, want mfa_required", status, raw)
		}
	})
}

// amrUser is a mockoidc user whose ID token carries amr.
type amrUser struct {
	mockoidc.MockUser
	amr []string
}

// amrClaims are mockoidc's claims plus amr.
type amrClaims struct {
	jwt.Claims
	AMR []string
}

// MarshalJSON writes the base claims' members and amr in one object.
func (c *amrClaims) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(c.Claims)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if c.AMR != nil {
		m["amr"] = c.AMR
	}
	return json.Marshal(m)
}

func (u *amrUser) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	base, err := u.MockUser.Claims(scope, c)
	if err != nil {
		return nil, err
	}
	return &amrClaims{Claims: base, AMR: u.amr}, nil
}

// race runs f n times at once and returns the results.
func race(n int, f func() int) []int {
	out := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range out {
		wg.Go(func() {
			<-start
			out[i] = f()
		})
	}
	close(start)
	wg.Wait()
	return out
}

func count(xs []int, x int) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// TestFlowAcrossReplicas: a flow begun on one replica finishes on another
// (its state and code live in the shared PostgreSQL database).
func TestFlowAcrossReplicas(t *testing.T) {
	t.Parallel()
	m := newMock(t)
	dbURL := storetest.PostgresURL(t)
	one := newAuthsvc(t, listen(t), dbURL, withProviders(mockProvider(m)))
	two := newAuthsvc(t, listen(t), dbURL, withProviders(mockProvider(m)))
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-rep", Email: "rep@example.com", EmailVerified: true, PreferredUsername: "rep"})
	verifier, challenge := pkce()
	callback := one.URL + "/auth/providers/mock/callback"
	cb := redirectOf(t, stopAt(t, callback), one.startURL("mock", appCallback, challenge))
	q := arrive(t, browser(t), strings.Replace(cb, one.URL, two.URL, 1)) // the callback reaches the other replica
	status, raw, tok := one.exchange(t, q.Get("code"), verifier)         // and the app exchanges at the first
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %s", status, raw)
	}
	if name, _ := two.me(t, tok.AccessToken); name != "rep" {
		t.Errorf("signed in as %q, want rep", name)
	}
}
