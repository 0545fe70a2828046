package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"github.com/authsvc/authsvc/pkg/seal"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

const testKEK = "test-key-encryption-key-of-32-bytes-at-least"

// forEachMFABackend runs fn on both databases with a key-encryption key
// configured (and cfg's other settings).
func forEachMFABackend(t *testing.T, cfg envConfig, fn func(t *testing.T, e *env)) {
	t.Helper()
	adjust := cfg.config
	cfg.config = func(c *config.Config) {
		c.Auth.KeyEncryptionKey = testKEK
		if adjust != nil {
			adjust(c)
		}
	}
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, newEnv(t, b.URL(t), cfg)) })
	}
}

// code computes the TOTP code of secret at the env's clock plus offset, as
// an authenticator app would.
func (e *env) code(secret string, offset time.Duration) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.Clock.Now().Add(offset),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// nextStep moves the clock to the start of the next 30-second step, so that
// codes computed by the test and checked by the server share their step.
func (e *env) nextStep() {
	now := e.Clock.Now()
	e.Clock.Advance(now.Truncate(30 * time.Second).Add(30*time.Second + time.Second).Sub(now))
}

// enrol turns TOTP on for u and returns the secret and recovery codes.
func (e *env) enrol(u *user) (string, []string) {
	e.t.Helper()
	m := e.do("POST", "/auth/mfa/totp", nil, u.Token).want(e.t, http.StatusOK, "")
	secret := m["secret"].(string)
	e.secret(secret)
	e.nextStep()
	m = e.do("POST", "/auth/mfa/totp/verify", map[string]string{"code": e.code(secret, 0)}, u.Token).want(e.t, http.StatusOK, "")
	var codes []string
	for _, c := range m["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
		e.secret(c.(string))
	}
	e.nextStep() // the confirming code's step is used
	return secret, codes
}

// mfaToken logs in with the password and returns the mfa_token.
func (e *env) mfaToken(u *user) string {
	e.t.Helper()
	m := e.login(u.Name, u.Password).want(e.t, http.StatusOK, "")
	if m["mfa_required"] != true || m["access_token"] != nil {
		e.t.Fatalf("login of an enrolled account: %v", m)
	}
	if got := m["methods"].([]any); len(got) != 2 || got[0] != "totp" || got[1] != "recovery_code" {
		e.t.Fatalf("methods %v", got)
	}
	return m["mfa_token"].(string)
}

func (e *env) challenge(mfaToken, field, value string) *response {
	e.t.Helper()
	r := e.do("POST", "/auth/mfa/challenge", map[string]string{"mfa_token": mfaToken, field: value}, "")
	if r.Status == http.StatusOK {
		e.secret(r.json(e.t)["access_token"].(string))
	}
	return r
}

func TestMFAEnrolLoginReplayAndSkew(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("alice")
		m := e.do("POST", "/auth/mfa/totp", nil, u.Token).want(t, http.StatusOK, "")
		secret := m["secret"].(string)
		e.secret(secret)
		if uri := m["otpauth_uri"].(string); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
			t.Errorf("otpauth_uri %q", uri)
		}
		qr, ok := strings.CutPrefix(m["qr_code"].(string), "data:image/png;base64,")
		raw, err := base64.StdEncoding.DecodeString(qr)
		if !ok || err != nil {
			t.Fatalf("qr_code is no PNG data URI: %v", err)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Fatalf("qr_code PNG: %v", err)
		}

		t.Run("nothing is active before a code confirms it", func(t *testing.T) {
			if m := e.login(u.Name, u.Password).want(t, http.StatusOK, ""); m["access_token"] == nil {
				t.Fatalf("login asked for a factor before verify: %v", m)
			}
		})
		e.nextStep()
		t.Run("a wrong code does not confirm", func(t *testing.T) {
			wrong := e.code(secret, 5*time.Minute)
			e.do("POST", "/auth/mfa/totp/verify", map[string]string{"code": wrong}, u.Token).want(t, http.StatusUnauthorized, "invalid_mfa_code")
			e.do("POST", "/auth/mfa/totp/verify", map[string]string{"code": "12ab56"}, u.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
		})
		m = e.do("POST", "/auth/mfa/totp/verify", map[string]string{"code": e.code(secret, 0)}, u.Token).want(t, http.StatusOK, "")
		if codes := m["recovery_codes"].([]any); len(codes) != 10 {
			t.Fatalf("%d recovery codes", len(codes))
		}
		if n := e.outboxCount("mfa_enabled"); n != 1 {
			t.Errorf("mfa_enabled emails: %d", n)
		}
		e.do("POST", "/auth/mfa/totp", nil, u.Token).want(t, http.StatusConflict, "mfa_already_enabled")
		e.nextStep()

		var access string
		t.Run("password then code gives an aal2 token", func(t *testing.T) {
			mt := e.mfaToken(u)
			access = e.challenge(mt, "code", e.code(secret, 0)).want(t, http.StatusOK, "")["access_token"].(string)
			c, err := e.Tokens.ParseAccess(access)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(c.AMR, ",") != "pwd,otp" || c.AAL != "aal2" {
				t.Errorf("amr %v aal %q", c.AMR, c.AAL)
			}
			if e.me(access) != http.StatusOK {
				t.Error("aal2 token refused")
			}
			e.challenge(mt, "code", e.code(secret, 30*time.Second)).want(t, http.StatusUnauthorized, "invalid_mfa_token")
		})
		t.Run("a refresh keeps amr and aal", func(t *testing.T) {
			tok := e.do("POST", "/auth/refresh", map[string]string{"token": access}, "").want(t, http.StatusOK, "")["access_token"].(string)
			e.secret(tok)
			if c, err := e.Tokens.ParseAccess(tok); err != nil || c.AAL != "aal2" || len(c.AMR) != 2 {
				t.Errorf("refreshed claims %+v, %v", c, err)
			}
		})
		t.Run("the same code is refused the second time", func(t *testing.T) {
			e.challenge(e.mfaToken(u), "code", e.code(secret, 0)).want(t, http.StatusUnauthorized, "mfa_code_used")
		})
		t.Run("the mfa token is no access token and the reverse", func(t *testing.T) {
			mt := e.mfaToken(u)
			if got := e.me(mt); got != http.StatusUnauthorized {
				t.Errorf("mfa token as bearer: %d", got)
			}
			e.challenge(access, "code", e.code(secret, 0)).want(t, http.StatusUnauthorized, "invalid_mfa_token")
		})
		t.Run("two steps of skew are refused, one is accepted", func(t *testing.T) {
			e.Clock.Advance(2 * time.Minute)
			mt := e.mfaToken(u)
			e.challenge(mt, "code", e.code(secret, -60*time.Second)).want(t, http.StatusUnauthorized, "invalid_mfa_code")
			e.challenge(mt, "code", e.code(secret, 60*time.Second)).want(t, http.StatusUnauthorized, "invalid_mfa_code")
			e.challenge(mt, "code", e.code(secret, -30*time.Second)).want(t, http.StatusOK, "")
			e.challenge(e.mfaToken(u), "code", e.code(secret, 30*time.Second)).want(t, http.StatusOK, "")
		})
	})
}

func TestMFARecoveryCodesAndDisable(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("bob")
		secret, codes := e.enrol(u)
		t.Run("a recovery code works once", func(t *testing.T) {
			e.challenge(e.mfaToken(u), "recovery_code", strings.ToUpper(codes[0])).want(t, http.StatusOK, "")
			// Used is told apart from wrong, as for a TOTP code.
			e.challenge(e.mfaToken(u), "recovery_code", codes[0]).want(t, http.StatusUnauthorized, "mfa_code_used")
			e.challenge(e.mfaToken(u), "recovery_code", "aaaaa-bbbbb").want(t, http.StatusUnauthorized, "invalid_mfa_code")
		})
		t.Run("the 11th use of any code fails", func(t *testing.T) {
			for _, c := range codes[1:] {
				e.challenge(e.mfaToken(u), "recovery_code", c).want(t, http.StatusOK, "")
			}
			for _, c := range codes {
				e.challenge(e.mfaToken(u), "recovery_code", c).want(t, http.StatusUnauthorized, "mfa_code_used")
			}
		})
		t.Run("code and recovery code together are a 422", func(t *testing.T) {
			e.do("POST", "/auth/mfa/challenge", map[string]string{"mfa_token": e.mfaToken(u), "code": "123456", "recovery_code": codes[0]}, "").
				want(t, http.StatusUnprocessableEntity, "validation_error")
		})
		t.Run("disabling needs the password and a code", func(t *testing.T) {
			e.do("DELETE", "/auth/mfa/totp", map[string]string{"password": u.Password}, u.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
			e.do("DELETE", "/auth/mfa/totp", map[string]string{"password": "wrong-password-1", "code": e.code(secret, 0)}, u.Token).
				want(t, http.StatusUnauthorized, "invalid_credentials")
			e.do("DELETE", "/auth/mfa/totp", map[string]string{"password": u.Password, "code": e.code(secret, 10*time.Minute)}, u.Token).
				want(t, http.StatusUnauthorized, "invalid_mfa_code")
			e.do("DELETE", "/auth/mfa/totp", map[string]string{"password": u.Password, "code": e.code(secret, 0)}, u.Token).want(t, http.StatusOK, "")
			if n := e.outboxCount("mfa_disabled"); n != 1 {
				t.Errorf("mfa_disabled emails: %d", n)
			}
			if m := e.login(u.Name, u.Password).want(t, http.StatusOK, ""); m["access_token"] == nil {
				t.Errorf("login after disabling: %v", m)
			}
			e.do("DELETE", "/auth/mfa/totp", map[string]string{"password": u.Password, "code": e.code(secret, 0)}, u.Token).
				want(t, http.StatusBadRequest, "mfa_not_enabled")
			var n int
			if err := e.SQL().Get(&n, e.SQL().Rebind(`SELECT COUNT(*) FROM audit_events WHERE target_id = ? AND event IN ('mfa.enabled', 'mfa.disabled')`), u.ID); err != nil || n != 2 {
				t.Errorf("mfa audit events: %d (%v), want 2", n, err)
			}
		})
	})
}

func TestMFATokenLimits(t *testing.T) {
	forEachMFABackend(t, envConfig{authOpts: account.Options{FailedLoginLimit: 8}}, func(t *testing.T, e *env) {
		u := e.register("carol")
		secret, _ := e.enrol(u)
		t.Run("the mfa token expires after 5 minutes", func(t *testing.T) {
			mt := e.mfaToken(u)
			e.Clock.Advance(5*time.Minute + time.Second)
			e.challenge(mt, "code", e.code(secret, 0)).want(t, http.StatusUnauthorized, "invalid_mfa_token")
		})
		t.Run("the mfa token dies after 5 wrong codes", func(t *testing.T) {
			mt := e.mfaToken(u)
			for range 5 {
				e.challenge(mt, "code", e.code(secret, 10*time.Minute)).want(t, http.StatusUnauthorized, "invalid_mfa_code")
			}
			e.challenge(mt, "code", e.code(secret, 0)).want(t, http.StatusUnauthorized, "invalid_mfa_token")
		})
		t.Run("wrong codes count toward the account's failure limit", func(t *testing.T) {
			// 2 logins + 5 wrong codes so far; this login is the 8th attempt.
			mt := e.mfaToken(u)
			e.challenge(mt, "code", e.code(secret, 10*time.Minute)).want(t, http.StatusTooManyRequests, "rate_limited")
			e.login(u.Name, u.Password).want(t, http.StatusTooManyRequests, "rate_limited")
		})
	})
}

// With the right password, wrong step-up codes still count toward the
// account's failure limit on every path that asks for one: the right
// password does not give the code a fresh count. Past the limit even the
// right password and code are 429 until the window ends.
func TestMFAStepUpCodeGuessesAreLimited(t *testing.T) {
	const limit = 6
	forEachMFABackend(t, envConfig{authOpts: account.Options{FailedLoginLimit: limit}}, func(t *testing.T, e *env) {
		u := e.register("grace")
		secret, _ := e.enrol(u)
		newPW := "pw-grace-New-9!x"
		e.secret(newPW)
		paths := []struct {
			method, path string
			body         func(code string) map[string]string
		}{
			{"DELETE", "/auth/mfa/totp", func(c string) map[string]string { return map[string]string{"password": u.Password, "code": c} }},
			{"PUT", "/auth/users/" + u.Name + "/password", func(c string) map[string]string {
				return map[string]string{"current_password": u.Password, "new_password": newPW, "code": c}
			}},
			{"PUT", "/auth/users/" + u.Name + "/email", func(c string) map[string]string {
				return map[string]string{"current_password": u.Password, "new_email": "g2@example.com", "code": c}
			}},
			{"DELETE", "/auth/users/" + u.Name, func(c string) map[string]string { return map[string]string{"password": u.Password, "code": c} }},
		}
		limited := 0
		for i := range 3 * limit {
			p := paths[i%len(paths)]
			r := e.do(p.method, p.path, p.body(e.code(secret, 10*time.Minute)), u.Token)
			if r.Status == http.StatusTooManyRequests {
				limited++
				continue
			}
			r.want(t, http.StatusUnauthorized, "invalid_mfa_code")
		}
		// Each guess costs two attempts (password, code): the limit is reached
		// after limit/2 guesses and every later one is refused.
		if want := 3*limit - limit/2; limited != want {
			t.Fatalf("%d of %d wrong codes were 429, want %d", limited, 3*limit, want)
		}
		e.do("DELETE", "/auth/mfa/totp", map[string]string{"password": u.Password, "code": e.code(secret, 0)}, u.Token).
			want(t, http.StatusTooManyRequests, "rate_limited")
		if on, err := e.DB.MFAEnabled(context.Background(), u.ID); err != nil || !on {
			t.Fatalf("mfa enabled = %v, %v after the limited guesses", on, err)
		}
	})
}

func TestMFASecretSealed(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("dave")
		secret, _ := e.enrol(u)
		var sealed []byte
		if err := e.SQL().Get(&sealed, e.SQL().Rebind(`SELECT secret FROM mfa_totp WHERE user_id = ?`), u.ID); err != nil {
			t.Fatal(err)
		}
		key, _ := base32Decode(secret)
		if bytes.Contains(sealed, []byte(secret)) || bytes.Contains(sealed, key) || bytes.Contains(bytes.ToUpper(sealed), []byte(secret)) {
			t.Fatal("the row holds the secret in the clear")
		}
		other, _ := seal.New([]byte("another-key-encryption-key-32-bytes!!"))
		if _, err := other.Open("totp:"+itoa(u.ID), sealed); err == nil {
			t.Fatal("the secret opened without the key-encryption key")
		}
		right, _ := seal.New([]byte(testKEK))
		if got, err := right.Open("totp:"+itoa(u.ID), sealed); err != nil || string(got) != secret {
			t.Fatalf("with the key: %v", err)
		}
		if _, err := right.Open("totp:"+itoa(u.ID+1), sealed); err == nil {
			t.Fatal("the sealed secret opens for another user id")
		}
	})
}

func TestMFANeedsKEK(t *testing.T) {
	b := storetest.Backends()[0]
	e := newEnv(t, b.URL(t), envConfig{})
	u := e.register("erin")
	e.do("POST", "/auth/mfa/totp", nil, u.Token).want(t, http.StatusBadRequest, "key_encryption_key_required")
	if _, err := e.DB.TOTP(context.Background(), u.ID); err == nil {
		t.Fatal("a factor was stored")
	}
}

func base32Decode(s string) ([]byte, error) {
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMFAReauthenticationAsksForACode(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("frank")
		secret, codes := e.enrol(u)
		path := "/auth/users/" + u.Name + "/password"
		newPW := "pw-frank-New-9!x"
		e.secret(newPW)
		t.Run("without a code it is 401 mfa_code_required", func(t *testing.T) {
			e.do("PUT", path, map[string]string{"current_password": u.Password, "new_password": newPW}, u.Token).
				want(t, http.StatusUnauthorized, "mfa_code_required")
			e.do("PUT", "/auth/users/"+u.Name+"/email", map[string]string{"current_password": u.Password, "new_email": "f2@example.com"}, u.Token).
				want(t, http.StatusUnauthorized, "mfa_code_required")
			e.do("DELETE", "/auth/users/"+u.Name, map[string]string{"password": u.Password}, u.Token).
				want(t, http.StatusUnauthorized, "mfa_code_required")
		})
		t.Run("a wrong code is 401", func(t *testing.T) {
			e.do("PUT", path, map[string]string{"current_password": u.Password, "new_password": newPW, "code": e.code(secret, 10*time.Minute)}, u.Token).
				want(t, http.StatusUnauthorized, "invalid_mfa_code")
		})
		t.Run("a current code or a recovery code passes", func(t *testing.T) {
			e.do("PUT", "/auth/users/"+u.Name+"/email", map[string]string{"current_password": u.Password, "new_email": "f2@example.com",
				"code": codes[0]}, u.Token).want(t, http.StatusOK, "")
			tok := e.challenge(e.mfaToken(u), "code", e.code(secret, 0)).want(t, http.StatusOK, "")["access_token"].(string)
			e.nextStep()
			e.do("PUT", path, map[string]string{"current_password": u.Password, "new_password": newPW, "code": e.code(secret, 0)}, tok).
				want(t, http.StatusOK, "")
		})
	})
}

func TestMFARequiredForAdmins(t *testing.T) {
	forEachMFABackend(t, envConfig{config: func(c *config.Config) { c.Auth.MFARequiredForAdmins = true }}, func(t *testing.T, e *env) {
		a := e.admin("root")
		u := e.register("grace")
		t.Run("an admin without MFA reaches only the enrolment endpoints", func(t *testing.T) {
			tok := e.token(a.Name, a.Password)
			e.do("GET", "/auth/me", nil, tok).want(t, http.StatusForbidden, "mfa_enrollment_required")
			e.do("GET", "/credits/balance", nil, tok).want(t, http.StatusForbidden, "mfa_enrollment_required")
			a.Token = tok
		})
		t.Run("ordinary users are not affected", func(t *testing.T) {
			if e.me(u.Token) != http.StatusOK {
				t.Fatal("user refused")
			}
		})
		t.Run("after enrolling the admin is let through", func(t *testing.T) {
			secret, _ := e.enrol(a)
			tok := e.challenge(e.mfaToken(a), "code", e.code(secret, 0)).want(t, http.StatusOK, "")["access_token"].(string)
			e.do("GET", "/auth/me", nil, tok).want(t, http.StatusOK, "")
		})
	})
}

func TestMFAAdminCreditsAddAsksForACode(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		a := e.admin("boss")
		u := e.register("henry")
		e.do("POST", "/credits/add", map[string]any{"amount": 5, "username": u.Name}, a.Token).want(t, http.StatusOK, "")
		secret, _ := e.enrol(a)
		e.do("POST", "/credits/add", map[string]any{"amount": 5, "username": u.Name}, a.Token).want(t, http.StatusUnauthorized, "mfa_code_required")
		e.do("POST", "/credits/add", map[string]any{"amount": 5, "username": u.Name, "code": e.code(secret, 10*time.Minute)}, a.Token).
			want(t, http.StatusUnauthorized, "invalid_mfa_code")
		e.do("POST", "/credits/add", map[string]any{"amount": 5, "username": u.Name, "code": e.code(secret, 0)}, a.Token).want(t, http.StatusOK, "")
		e.do("POST", "/credits/add", map[string]any{"amount": 5, "username": u.Name, "code": e.code(secret, 0)}, a.Token).
			want(t, http.StatusUnauthorized, "mfa_code_used")
		if m := e.do("GET", "/credits/balance", nil, u.Token).want(t, http.StatusOK, ""); m["balance"] != float64(10) {
			t.Fatalf("balance %v, want 10", m["balance"])
		}
	})
}

func TestMFAConcurrentUseOfOneCodeWinsOnce(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("ivy")
		secret, _ := e.enrol(u)
		const n = 4
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = e.mfaToken(u)
		}
		code := e.code(secret, 0)
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for _, mt := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- e.do("POST", "/auth/mfa/challenge", map[string]string{"mfa_token": mt, "code": code}, "").Status
			}()
		}
		wg.Wait()
		close(statuses)
		ok := 0
		for s := range statuses {
			if s == http.StatusOK {
				ok++
			} else if s != http.StatusUnauthorized {
				t.Errorf("status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent uses of one code succeeded, want 1", ok, n)
		}
	})
}

// An mfa_token's limit of wrong codes holds under a race: of many concurrent
// wrong codes at most MFAMaxFailures are checked (invalid_mfa_code); the
// rest find the token dead (invalid_mfa_token), and so does the right code.
func TestMFATokenAttemptsRaced(t *testing.T) {
	forEachMFABackend(t, envConfig{authOpts: account.Options{FailedLoginLimit: 1000}}, func(t *testing.T, e *env) {
		u := e.register("jack")
		secret, _ := e.enrol(u)
		mt := e.mfaToken(u)
		const n = 25
		wrong := e.code(secret, 10*time.Minute)
		codes := make(chan string, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.do("POST", "/auth/mfa/challenge", map[string]string{"mfa_token": mt, "code": wrong}, "")
				var m struct{ Code string }
				_ = json.Unmarshal(r.Body, &m)
				codes <- strconv.Itoa(r.Status) + " " + m.Code
			}()
		}
		wg.Wait()
		close(codes)
		counts := map[string]int{}
		for c := range codes {
			counts[c]++
		}
		if counts["401 invalid_mfa_code"] != domain.MFAMaxFailures || counts["401 invalid_mfa_token"] != n-domain.MFAMaxFailures {
			t.Fatalf("outcomes of %d concurrent wrong codes: %v, want %d checked", n, counts, domain.MFAMaxFailures)
		}
		e.challenge(mt, "code", e.code(secret, 0)).want(t, http.StatusUnauthorized, "invalid_mfa_token")
	})
}

// An mfa_token obtained with the old password does not complete a login
// after a password reset (nor after a password change).
func TestMFATokenDiesWithThePassword(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("kate")
		secret, _ := e.enrol(u)
		mt := e.mfaToken(u)
		reset := e.requestReset(u)
		newPW := "Kate-new-Str0ng-pw"
		e.secret(newPW)
		e.do("POST", "/auth/reset-password", map[string]string{"token": reset, "new_password": newPW}, "").want(t, http.StatusOK, "")
		e.challenge(mt, "code", e.code(secret, 0)).want(t, http.StatusUnauthorized, "invalid_mfa_token")
		u.Password = newPW
		fresh := e.mfaToken(u)
		e.challenge(fresh, "code", e.code(secret, 0)).want(t, http.StatusOK, "")
	})
}

// Turning the second factor off ends the sessions signed in with it: the
// owner's DELETE /auth/mfa/totp ends every other session (the caller's
// stays), and `user mfa reset` (ResetMFA) ends them all.
func TestMFAOffEndsSessions(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("liam")
		secret, _ := e.enrol(u)
		other := e.challenge(e.mfaToken(u), "code", e.code(secret, 0)).want(t, http.StatusOK, "")["access_token"].(string)
		e.nextStep()
		e.do("DELETE", "/auth/mfa/totp", map[string]string{"password": u.Password, "code": e.code(secret, 0)}, u.Token).want(t, http.StatusOK, "")
		e.do("GET", "/auth/me", nil, other).want(t, http.StatusUnauthorized, "")
		e.do("POST", "/auth/refresh", map[string]string{"token": other}, "").want(t, http.StatusUnauthorized, "")
		e.do("GET", "/auth/me", nil, u.Token).want(t, http.StatusOK, "")

		e.nextStep()
		secret, _ = e.enrol(u)
		aal2 := e.challenge(e.mfaToken(u), "code", e.code(secret, 0)).want(t, http.StatusOK, "")["access_token"].(string)
		if _, err := e.Auth.ResetMFA(context.Background(), u.Name); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{aal2, u.Token} {
			e.do("GET", "/auth/me", nil, tok).want(t, http.StatusUnauthorized, "")
			e.do("POST", "/auth/refresh", map[string]string{"token": tok}, "").want(t, http.StatusUnauthorized, "")
		}
	})
}

// A stolen access token alone cannot enrol the thief's authenticator: past
// the recent-sign-in window, enrolment asks for the password, and a wrong
// one counts like a failed login.
func TestEnrolmentAsksForThePasswordAfterRecentSignIn(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("enrolee")
		e.Clock.Advance(domain.RecentSignIn + time.Second)
		e.do("POST", "/auth/mfa/totp", nil, u.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
		e.do("POST", "/auth/mfa/totp", map[string]string{"password": "wrong-password-1"}, u.Token).
			want(t, http.StatusUnauthorized, "")
		var failures int
		if err := e.SQL().QueryRow("SELECT COUNT(*) FROM login_failures").Scan(&failures); err != nil {
			t.Fatal(err)
		}
		if failures == 0 {
			t.Fatal("a wrong enrolment password was not counted as a failed login")
		}
		e.do("POST", "/auth/mfa/totp", map[string]string{"password": u.Password}, u.Token).want(t, http.StatusOK, "")
		// A fresh sign-in needs no password.
		fresh := e.token(u.Name, u.Password)
		e.do("POST", "/auth/mfa/totp", nil, fresh).want(t, http.StatusOK, "")
	})
}

// Recovery codes are stored keyed (HMAC under the key-encryption key, bound
// to the user): a copy of the database alone cannot be searched for them.
// Codes stored the older, unkeyed way keep working until used.
func TestRecoveryCodesAreStoredKeyed(t *testing.T) {
	forEachMFABackend(t, envConfig{}, func(t *testing.T, e *env) {
		u := e.register("keyed")
		_, codes := e.enrol(u)
		var stored []string
		if err := e.SQL().Select(&stored, e.SQL().Rebind(`SELECT code_hash FROM mfa_recovery_codes WHERE user_id = ?`), u.ID); err != nil {
			t.Fatal(err)
		}
		unkeyed := map[string]bool{}
		for _, c := range codes {
			unkeyed[domain.HashToken("recovery:"+strings.ReplaceAll(c, "-", ""))] = true
		}
		if len(stored) != len(codes) {
			t.Fatalf("%d rows for %d codes", len(stored), len(codes))
		}
		for _, h := range stored {
			if !strings.HasPrefix(h, "hmac-sha256:") || unkeyed[h] {
				t.Fatalf("recovery code stored as %q: not keyed", h)
			}
		}
		e.challenge(e.mfaToken(u), "recovery_code", codes[0]).want(t, http.StatusOK, "")

		// A code from before the change (its unkeyed hash) still signs in, once.
		legacy := "abcde-fghij"
		e.secret(legacy)
		if _, err := e.SQL().Exec(e.SQL().Rebind(`INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (?, ?)`),
			u.ID, domain.HashToken("recovery:abcdefghij")); err != nil {
			t.Fatal(err)
		}
		e.challenge(e.mfaToken(u), "recovery_code", legacy).want(t, http.StatusOK, "")
		e.challenge(e.mfaToken(u), "recovery_code", legacy).want(t, http.StatusUnauthorized, "mfa_code_used")
	})
}
