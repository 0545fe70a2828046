package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/token"
)

// secret is 32 bytes: the shortest accepted.
var secret = []byte("0123456789abcdef0123456789abcdef")

// base is the fixed "now" of the tests.
var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a test clock that tests move by hand; tests are sequential.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newIssuer(t testing.TB) (*token.Issuer, *clock) {
	t.Helper()
	clk := &clock{t: base}
	iss, err := token.New(token.Config{
		Secret: secret, Issuer: "authsvc", Audience: "authsvc-api",
		AccessTTL: time.Hour, ResetTTL: 30 * time.Minute, Now: clk.Now,
	})
	if err != nil {
		t.Fatalf("token.New: %v", err)
	}
	return iss, clk
}

func testUser() *domain.User {
	return &domain.User{ID: 42, Username: "alice", IsAdmin: true, TokenVersion: 7}
}

// accessMap returns the claims IssueAccess writes for testUser at now, as a
// map that tests change one claim at a time.
func accessMap(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "42", "username": "alice", "is_admin": false,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": "00112233445566778899aabbccddeeff", "iss": "authsvc", "aud": "authsvc-api",
		"ver": 7, "auth_time": now.Add(-time.Minute).Unix(),
	}
}

// resetMap returns the claims IssueReset writes for user 42 at now.
func resetMap(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"purpose": "pwreset", "sub": "42",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(30 * time.Minute).Unix(),
		"jti": "ffeeddccbbaa99887766554433221100", "iss": "authsvc", "aud": "authsvc-api",
	}
}

// with returns a copy of m with the given claims set (a nil value deletes).
func with(m jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// sign signs claims with the given method and key.
func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// hs256 signs claims as the service does.
func hs256(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodHS256, secret, claims)
}

// b64 is base64url without padding, as in JWTs.
func b64(v any) string {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// segments splits a token into its three parts.
func segments(t testing.TB, tok string) (header, payload, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// payloadOf decodes the payload of a token into a map.
func payloadOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	_, p, _ := segments(t, tok)
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// assertRefused checks that err is the EUNAUTHORIZED refusal for reason.
func assertRefused(t testing.TB, err error, reason string) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *domain.Error", err)
	}
	wantClient := "invalid_token"
	if reason == token.ReasonExpired {
		wantClient = "token_expired"
	}
	if e.Code != domain.EUNAUTHORIZED || e.Reason != wantClient || e.Message != "Could not validate credentials" {
		t.Fatalf("got code %q reason %q message %q, want %q %q", e.Code, e.Reason, e.Message, domain.EUNAUTHORIZED, wantClient)
	}
	if got := token.RefusalReason(err); got != reason {
		t.Fatalf("RefusalReason = %q, want %q (err: %v)", got, reason, err)
	}
}
