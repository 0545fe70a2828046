package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

// claimsFor returns the claims of a valid access token for u right now.
func (e *env) claimsFor(u *user, ver int64) jwt.MapClaims {
	now := e.Clock.Now().Unix()
	return jwt.MapClaims{
		"sub": strconv.FormatInt(u.ID, 10), "username": u.Name, "is_admin": false,
		"iat": now, "nbf": now, "exp": now + 3600, "jti": fmt.Sprintf("forged-%d-%d", u.ID, time.Now().UnixNano()),
		"iss": "authsvc", "aud": "authsvc", "ver": ver, "auth_time": now,
	}
}

func signed(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestTokenAttacks(t *testing.T) {
	// With auth.audience set, so that a wrong aud is an attack too (by
	// default none is written or required).
	forEachBackendWith(t, withAudience("authsvc"), func(t *testing.T, e *env) {
		alice, bob := e.register("alice"), e.register("bob")
		key := []byte(testSecret)
		base := e.claimsFor(alice, 1)
		t.Run("a correctly forged token with the right key works (control)", func(t *testing.T) {
			if got := e.me(signed(t, jwt.SigningMethodHS256, key, base)); got != 200 {
				t.Fatalf("control token: %d", got)
			}
		})
		valid := signed(t, jwt.SigningMethodHS256, key, base)
		header, payload, _ := strings.Cut(valid, ".")
		payload, sig, _ := strings.Cut(payload, ".")
		edited := b64(with(base, "sub", strconv.FormatInt(bob.ID, 10), "username", "bob"))
		garbage := make([]byte, 150_000)
		rand.Read(garbage) //nolint:errcheck // never fails
		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, base).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		now := e.Clock.Now().Unix()
		attacks := map[string]string{
			"alg none":                     none,
			"alg None":                     b64(map[string]string{"alg": "None", "typ": "JWT"}) + "." + payload + ".",
			"HS384 with the right key":     signed(t, jwt.SigningMethodHS384, key, base),
			"HS512 with the right key":     signed(t, jwt.SigningMethodHS512, key, base),
			"another key":                  signed(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!!"), base),
			"expired":                      signed(t, jwt.SigningMethodHS256, key, with(base, "iat", now-7200, "nbf", now-7200, "exp", now-3600)),
			"missing exp":                  signed(t, jwt.SigningMethodHS256, key, with(base, "exp", nil)),
			"exp 0":                        signed(t, jwt.SigningMethodHS256, key, with(base, "exp", 0)),
			"future nbf":                   signed(t, jwt.SigningMethodHS256, key, with(base, "nbf", now+3600)),
			"wrong iss":                    signed(t, jwt.SigningMethodHS256, key, with(base, "iss", "evil")),
			"wrong aud":                    signed(t, jwt.SigningMethodHS256, key, with(base, "aud", "other")),
			"edited payload, old sig":      header + "." + edited + "." + sig,
			"200 kB of garbage":            base64.RawURLEncoding.EncodeToString(garbage),
			"stale token version":          signed(t, jwt.SigningMethodHS256, key, with(base, "ver", 0)),
			"user that does not exist":     signed(t, jwt.SigningMethodHS256, key, with(base, "sub", "999999")),
			"access claims plus a purpose": signed(t, jwt.SigningMethodHS256, key, with(base, "purpose", "pwreset")),
		}
		for name, tok := range attacks {
			t.Run(name+" is 401", func(t *testing.T) {
				e.do("GET", "/auth/me", nil, tok).want(t, 401, "")
				if len(tok) < 60_000 { // a bigger body is a 413 before any parsing
					e.do("POST", "/auth/refresh", map[string]string{"token": tok}, "").want(t, 401, "")
				}
			})
		}
		t.Run("an is_admin claim for a non-admin gains nothing", func(t *testing.T) {
			tok := signed(t, jwt.SigningMethodHS256, key, with(base, "is_admin", true))
			e.secret(tok)
			e.do("GET", "/auth/me", nil, tok).want(t, 200, "")
			e.do("GET", fmt.Sprintf("/auth/me?user_id=%d", bob.ID), nil, tok).want(t, 403, "forbidden")
			e.do("GET", "/auth/users/bob", nil, tok).want(t, 403, "forbidden")
			e.do("DELETE", "/auth/users/bob", map[string]string{"password": alice.Password}, tok).want(t, 403, "forbidden")
		})
		t.Run("a reset token is no access token", func(t *testing.T) {
			reset := e.requestReset(alice)
			e.do("GET", "/auth/me", nil, reset).want(t, 401, "")
			e.do("POST", "/auth/refresh", map[string]string{"token": reset}, "").want(t, 401, "")
		})
		t.Run("an access token is no reset token", func(t *testing.T) {
			e.do("POST", "/auth/reset-password", map[string]string{"token": alice.Token, "new_password": "Brand-New-Str0ng"}, "").
				want(t, 400, "invalid_token")
		})
	})
}

// post sends a JSON POST from any goroutine and returns the status.
func post(url string, body any) (int, error) {
	raw, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// race runs n copies of fn at once and counts the 200s; any status other
// than 200 or want fails the test.
func race(t *testing.T, n, want int, fn func() (int, error)) int {
	t.Helper()
	var ok atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			status, err := fn()
			switch {
			case err != nil:
				t.Error(err)
			case status == 200:
				ok.Add(1)
			case status != want:
				t.Errorf("status %d, want 200 or %d", status, want)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(ok.Load())
}

func TestPasswordResetEndpoints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		reset := func(tok, pw string) *response {
			e.secret(pw)
			return e.do("POST", "/auth/reset-password", map[string]string{"token": tok, "new_password": pw}, "")
		}
		t.Run("request answers the same for a known and an unknown email", func(t *testing.T) {
			known := e.do("POST", "/auth/password-reset-request", map[string]string{"email": alice.Email}, "").want(t, 200, "")
			unknown := e.do("POST", "/auth/password-reset-request", map[string]string{"email": "nobody@example.com"}, "").want(t, 200, "")
			if fmt.Sprint(known) != fmt.Sprint(unknown) || known["message"] != "Password reset link sent to email if account exists" {
				t.Fatalf("known %v, unknown %v", known, unknown)
			}
			if n := e.outboxCount("password_reset"); n != 1 {
				t.Fatalf("reset emails = %d, want 1", n)
			}
		})
		t.Run("a second request within a minute sends nothing and answers the same", func(t *testing.T) {
			e.do("POST", "/auth/password-reset-request", map[string]string{"email": "ALICE@example.com"}, "").want(t, 200, "")
			if n := e.outboxCount("password_reset"); n != 1 {
				t.Fatalf("reset emails = %d, want 1", n)
			}
		})
		t.Run("malformed email is 422", func(t *testing.T) {
			e.do("POST", "/auth/password-reset-request", map[string]string{"email": "nope"}, "").want(t, 422, "validation_error")
		})
		older := e.lastResetToken(alice)
		e.Clock.Advance(61 * time.Second)
		tok := e.requestReset(alice)
		t.Run("weak new password is 422", func(t *testing.T) {
			reset(tok, "password").want(t, 422, "validation_error")
		})
		t.Run("garbage token is 400", func(t *testing.T) {
			reset("garbage", "Brand-New-Str0ng").want(t, 400, "invalid_token")
		})
		t.Run("20 concurrent resets with one token: exactly one succeeds", func(t *testing.T) {
			e.secret("Brand-New-Str0ng")
			wins := race(t, 20, 400, func() (int, error) {
				return post(e.URL+"/auth/reset-password", map[string]string{"token": tok, "new_password": "Brand-New-Str0ng"})
			})
			if wins != 1 {
				t.Fatalf("%d resets succeeded, want 1", wins)
			}
		})
		t.Run("the reset changed the password and killed earlier access tokens", func(t *testing.T) {
			e.login("alice", alice.Password).want(t, 401, "invalid_credentials")
			e.login("alice", "Brand-New-Str0ng").want(t, 200, "")
			if e.me(alice.Token) != 401 {
				t.Fatal("access token issued before the reset still works")
			}
		})
		t.Run("a used token is 400", func(t *testing.T) {
			reset(tok, "Another-Str0ng-1").want(t, 400, "invalid_token")
		})
		t.Run("the reset killed the older outstanding reset token", func(t *testing.T) {
			reset(older, "Another-Str0ng-2").want(t, 400, "invalid_token")
		})
		t.Run("an expired token is 400", func(t *testing.T) {
			e.Clock.Advance(61 * time.Second)
			late := e.requestReset(alice)
			e.Clock.Advance(31 * time.Minute)
			reset(late, "Another-Str0ng-3").want(t, 400, "invalid_token")
		})
		t.Run("an email change kills outstanding reset tokens", func(t *testing.T) {
			e.Clock.Advance(61 * time.Second)
			pending := e.requestReset(alice)
			pw := e.token("alice", "Brand-New-Str0ng")
			e.do("PUT", "/auth/users/alice/email", map[string]string{"new_email": "alice.new@example.com",
				"current_password": "Brand-New-Str0ng"}, pw).want(t, 200, "")
			reset(pending, "Another-Str0ng-5").want(t, 400, "invalid_token")
			alice.Email = "alice.new@example.com"
		})
		t.Run("success body", func(t *testing.T) {
			e.Clock.Advance(61 * time.Second)
			m := reset(e.requestReset(alice), "Another-Str0ng-4").want(t, 200, "")
			wantKeys(t, m, "message")
			if m["message"] != "Password has been reset successfully" {
				t.Fatalf("body = %v", m)
			}
		})
	})
}

func TestConcurrentRefreshWithOneToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		wins := race(t, 10, 401, func() (int, error) {
			return post(e.URL+"/auth/refresh", map[string]string{"token": alice.Token})
		})
		if wins != 1 {
			t.Fatalf("%d refreshes succeeded, want 1", wins)
		}
	})
}

func TestLoginSecurity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		t.Run("unknown user and wrong password: same answer, and the dummy compare runs", func(t *testing.T) {
			c0, d0 := e.Hasher.compares.Load(), e.Hasher.dummies.Load()
			unknown := e.login("nobody", "Some-Password-1")
			if e.Hasher.dummies.Load() != d0+1 || e.Hasher.compares.Load() != c0 {
				t.Fatalf("unknown user: dummies %d→%d, compares %d→%d", d0, e.Hasher.dummies.Load(), c0, e.Hasher.compares.Load())
			}
			wrong := e.login("alice", "Some-Password-1")
			if e.Hasher.compares.Load() != c0+1 || e.Hasher.dummies.Load() != d0+1 {
				t.Fatal("wrong password: want exactly one real compare")
			}
			if unknown.Status != 401 || wrong.Status != 401 || !bytes.Equal(unknown.Body, wrong.Body) {
				t.Fatalf("unknown %d %s, wrong %d %s", unknown.Status, unknown.Body, wrong.Status, wrong.Body)
			}
			unknown.want(t, 401, "invalid_credentials")
			if m := unknown.json(t); m["detail"] != "Incorrect username or password" {
				t.Fatalf("detail = %v", m["detail"])
			}
		})
		t.Run("a 72-byte password works and a 73-byte one is refused everywhere", func(t *testing.T) {
			pw72 := strings.Repeat("k9#mQ2v!", 9)
			e.secret(pw72)
			e.secret(pw72 + "x")
			e.do("POST", "/auth/register", map[string]string{"username": "long", "email": "long@example.com", "password": pw72 + "x"}, "").
				want(t, 422, "validation_error")
			e.do("POST", "/auth/register", map[string]string{"username": "long", "email": "long@example.com", "password": pw72}, "").
				want(t, 201, "")
			e.login("long", pw72).want(t, 200, "")
			c0, d0 := e.Hasher.compares.Load(), e.Hasher.dummies.Load()
			e.login("long", pw72+"x").want(t, 422, "validation_error")
			if e.Hasher.compares.Load() != c0 || e.Hasher.dummies.Load() != d0 {
				t.Fatal("a 73-byte password reached bcrypt")
			}
		})
		t.Run("the 101st failed login for a username is 429 until the hour rolls on", func(t *testing.T) {
			carol := e.register("carol")
			for i := range 100 {
				if r := e.login("CAROL", fmt.Sprintf("wrong-password-%d", i)); r.Status != 401 {
					t.Fatalf("failure %d: status %d", i+1, r.Status)
				}
			}
			r := e.login("carol", "wrong-password-x").want(t, 429, "rate_limited")
			if r["detail"] != "Too many requests" {
				t.Fatalf("body = %v", r)
			}
			res := e.login("carol", carol.Password)
			if res.Status != 429 || res.Header.Get("Retry-After") == "" {
				t.Fatalf("right password during the lock: %d, Retry-After %q", res.Status, res.Header.Get("Retry-After"))
			}
			e.login("bob-is-unknown", "wrong-password-y").want(t, 401, "invalid_credentials")
			e.login("alice", alice.Password).want(t, 200, "")
			e.Clock.Advance(time.Hour)
			e.login("carol", carol.Password).want(t, 200, "")
		})
		t.Run("concurrent guesses cannot slip past the per-account limit", func(t *testing.T) {
			e.register("dave")
			c0 := e.Hasher.compares.Load()
			var wg sync.WaitGroup
			var limited atomic.Int64
			for i := range 130 {
				wg.Go(func() {
					switch st := e.login("dave", fmt.Sprintf("guess-number-%d", i)).Status; st {
					case 429:
						limited.Add(1)
					case 401:
					default:
						t.Errorf("guess %d: status %d", i, st)
					}
				})
			}
			wg.Wait()
			if compares := e.Hasher.compares.Load() - c0; compares > 100 || limited.Load() < 30 {
				t.Fatalf("%d passwords compared and %d refused; want at most 100 compared", compares, limited.Load())
			}
		})
	})
}

// A reset request logs as many lines for a known email as for an unknown
// one (the log shipper counts lines; its counters are private, and the
// count itself tells nothing either).
func TestPasswordResetRequestLogsAlike(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, b.URL(t), envConfig{logLevel: zerolog.DebugLevel})
			alice := e.register("alice")
			lines := func(email string) int {
				before := strings.Count(e.logs.String(), "\n")
				e.do("POST", "/auth/password-reset-request", map[string]string{"email": email}, "").want(t, 200, "")
				e.Auth.Wait() // the background part of a known email's request
				return strings.Count(e.logs.String(), "\n") - before
			}
			known, unknown := lines(alice.Email), lines("nobody@example.com")
			if known != unknown || known == 0 {
				t.Fatalf("a known email's request logged %d lines, an unknown one's %d:\n%s", known, unknown, e.logs.String())
			}
			if throttled := lines(alice.Email); throttled != unknown {
				t.Fatalf("a throttled request logged %d lines, an unknown one's %d", throttled, unknown)
			}
			resend := func(email string) int {
				before := strings.Count(e.logs.String(), "\n")
				e.do("POST", "/auth/verify-email/resend", map[string]string{"email": email}, "").want(t, 200, "")
				e.Auth.Wait()
				return strings.Count(e.logs.String(), "\n") - before
			}
			if known, unknown := resend(alice.Email), resend("nobody@example.com"); known != unknown {
				t.Fatalf("a known email's resend logged %d lines, an unknown one's %d", known, unknown)
			}
		})
	}
}

// An address is one account however its accents are encoded: "josé" with a
// precomposed é (NFC) and with e + U+0301 (NFD) are the same email on
// registration, email change, reset requests and lookups.
func TestEmailsAreNormalisedToNFC(t *testing.T) {
	const nfc, nfd = "jos\u00e9@example.com", "jose\u0301@example.com"
	forEachBackend(t, func(t *testing.T, e *env) {
		pw := "pw-jose-Xq7!zz"
		e.secret(pw)
		e.do("POST", "/auth/register", map[string]string{"username": "jose", "email": nfd, "password": pw}, "").
			want(t, http.StatusCreated, "")
		u, err := e.DB.UserByUsername(context.Background(), "jose")
		if err != nil || u.Email != nfc {
			t.Fatalf("stored %q (%v), want the NFC form %q", u.Email, err, nfc)
		}
		e.do("POST", "/auth/register", map[string]string{"username": "jose2", "email": "JOS\u00c9@example.com", "password": pw}, "").
			want(t, http.StatusConflict, "email_taken")
		e.do("POST", "/auth/register", map[string]string{"username": "jose3", "email": nfd, "password": pw}, "").
			want(t, http.StatusConflict, "email_taken")
		if _, err := e.DB.UserByEmail(context.Background(), nfd); err != nil {
			t.Fatalf("lookup by the NFD form: %v", err)
		}
		e.do("POST", "/auth/password-reset-request", map[string]string{"email": nfd}, "").want(t, 200, "")
		e.Auth.Wait()
		if n := e.outboxCount("password_reset"); n != 1 {
			t.Fatalf("reset emails for the NFD form = %d, want 1", n)
		}
	})
}
