package token_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/token"
)

func TestParseAccessRefuses(t *testing.T) {
	iss, _ := newIssuer(t)
	good := accessMap(base)
	otherKey := []byte("another-secret-of-at-least-32-bytes!")
	valid := hs256(t, good)
	h, p, s := segments(t, valid)

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good), token.ReasonWrongAlg},
		{"alg None, unsigned", b64(map[string]string{"alg": "None", "typ": "JWT"}) + "." + p + ".", token.ReasonWrongAlg},
		{"alg none with the HS256 signature kept", b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + p + "." + s, token.ReasonWrongAlg},
		{"HS384 with the right key", sign(t, jwt.SigningMethodHS384, secret, good), token.ReasonWrongAlg},
		{"HS512 with the right key", sign(t, jwt.SigningMethodHS512, secret, good), token.ReasonWrongAlg},
		{"RS256 header over an HMAC signature", b64(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + p + "." + s, token.ReasonWrongAlg},
		{"no alg header", b64(map[string]string{"typ": "JWT"}) + "." + p + "." + s, token.ReasonWrongAlg},
		{"signed with another key", sign(t, jwt.SigningMethodHS256, otherKey, good), token.ReasonBadSignature},
		{"payload edited, old signature", h + "." + b64(with(good, "is_admin", true)) + "." + s, token.ReasonBadSignature},
		{"signature removed", h + "." + p + ".", token.ReasonBadSignature},
		{"expired beyond the leeway", hs256(t, with(good, "exp", base.Add(-31*time.Second).Unix())), token.ReasonExpired},
		{"missing exp", hs256(t, with(good, "exp", nil)), token.ReasonWrongClaims},
		{"exp 0", hs256(t, with(good, "exp", 0)), token.ReasonWrongClaims},
		{"exp negative", hs256(t, with(good, "exp", -1)), token.ReasonWrongClaims},
		{"nbf in the future beyond the leeway", hs256(t, with(good, "nbf", base.Add(31*time.Second).Unix())), token.ReasonNotYetValid},
		{"iat in the future beyond the leeway", hs256(t, with(good, "iat", base.Add(time.Minute).Unix())), token.ReasonNotYetValid},
		{"auth_time in the future beyond the leeway", hs256(t, with(good, "auth_time", base.Add(31*time.Second).Unix())), token.ReasonNotYetValid},
		{"auth_time ten years ahead", hs256(t, with(good, "auth_time", base.AddDate(10, 0, 0).Unix())), token.ReasonNotYetValid},
		{"wrong iss", hs256(t, with(good, "iss", "someone-else")), token.ReasonWrongIssuer},
		{"missing iss", hs256(t, with(good, "iss", nil)), token.ReasonWrongClaims},
		{"wrong aud", hs256(t, with(good, "aud", "other-api")), token.ReasonWrongAudience},
		{"wrong aud in a list", hs256(t, with(good, "aud", []string{"other-api"})), token.ReasonWrongAudience},
		{"missing aud", hs256(t, with(good, "aud", nil)), token.ReasonWrongClaims},
		{"200 kB of garbage", strings.Repeat("A", 200_000), token.ReasonTooLarge},
		{"valid token padded past 4 KiB", hs256(t, with(good, "pad", strings.Repeat("x", token.MaxTokenBytes))), token.ReasonTooLarge},
		{"reset token", hs256(t, resetMap(base)), token.ReasonWrongPurpose},
		{"access claims with a purpose", hs256(t, with(good, "purpose", "login")), token.ReasonWrongPurpose},
		{"access claims with a null purpose", hs256(t, with(good, "purpose", jsonNull{})), token.ReasonWrongPurpose},
		{"expired reset token", hs256(t, with(resetMap(base), "exp", base.Add(-time.Hour).Unix())), token.ReasonWrongPurpose},
		{"missing sub", hs256(t, with(good, "sub", nil)), token.ReasonWrongClaims},
		{"sub zero", hs256(t, with(good, "sub", "0")), token.ReasonWrongClaims},
		{"sub negative", hs256(t, with(good, "sub", "-42")), token.ReasonWrongClaims},
		{"sub with a plus sign", hs256(t, with(good, "sub", "+42")), token.ReasonWrongClaims},
		{"sub with a leading zero", hs256(t, with(good, "sub", "042")), token.ReasonWrongClaims},
		{"sub a username", hs256(t, with(good, "sub", "alice")), token.ReasonWrongClaims},
		{"missing username", hs256(t, with(good, "username", nil)), token.ReasonWrongClaims},
		{"missing is_admin", hs256(t, with(good, "is_admin", nil)), token.ReasonWrongClaims},
		{"missing ver", hs256(t, with(good, "ver", nil)), token.ReasonWrongClaims},
		{"missing jti", hs256(t, with(good, "jti", nil)), token.ReasonWrongClaims},
		{"missing iat", hs256(t, with(good, "iat", nil)), token.ReasonWrongClaims},
		{"missing nbf", hs256(t, with(good, "nbf", nil)), token.ReasonWrongClaims},
		{"missing auth_time", hs256(t, with(good, "auth_time", nil)), token.ReasonWrongClaims},
		{"ver of the wrong type", hs256(t, with(good, "ver", "7")), token.ReasonMalformed},
		{"exp of the wrong type", hs256(t, with(good, "exp", "soon")), token.ReasonMalformed},
		{"empty string", "", token.ReasonMalformed},
		{"two segments", h + "." + p, token.ReasonMalformed},
		{"four segments", valid + ".x", token.ReasonMalformed},
		{"header not base64", "!!!." + p + "." + s, token.ReasonMalformed},
		{"header not JSON", b64("not json") + "." + p + "." + s, token.ReasonMalformed},
		{"payload not JSON", h + "." + b64("[1,2") + "." + s, token.ReasonMalformed},
		{"signature in non-canonical base64", h + "." + p + "." + nonCanonical(s), token.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := iss.ParseAccess(tt.token)
			if claims != nil {
				t.Fatalf("claims = %+v, want nil", claims)
			}
			assertRefused(t, err, tt.reason)
		})
	}

	t.Run("the unmodified token of the table is accepted", func(t *testing.T) {
		if _, err := iss.ParseAccess(valid); err != nil {
			t.Fatalf("ParseAccess: %v", err)
		}
	})
}

// jsonNull marshals as null, where a nil map value would delete the claim.
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// nonCanonical changes the unused low bits of the last character of an
// HS256 signature (43 characters carry 256 bits + 2 spare bits), which a
// lenient decoder maps to the same bytes.
func nonCanonical(sig string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	return sig[:len(sig)-1] + string(alphabet[last^1])
}

func TestParseAccessAccepts(t *testing.T) {
	iss, _ := newIssuer(t)
	good := accessMap(base)
	tests := []struct {
		name  string
		token string
	}{
		{"expired within the leeway", hs256(t, with(good, "exp", base.Add(-29*time.Second).Unix()))},
		{"nbf in the future within the leeway", hs256(t, with(good, "nbf", base.Add(29*time.Second).Unix()))},
		{"iat in the future within the leeway", hs256(t, with(good, "iat", base.Add(29*time.Second).Unix()))},
		{"aud as a list holding ours", hs256(t, with(good, "aud", []string{"other-api", "authsvc-api"}))},
		{"an unknown extra claim", hs256(t, with(good, "extra", 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iss.ParseAccess(tt.token)
			if err != nil {
				t.Fatalf("ParseAccess: %v (reason %s)", err, token.RefusalReason(err))
			}
			if c.UserID != 42 || c.Username != "alice" || c.TokenVersion != 7 {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

func TestParseAccessFollowsTheClock(t *testing.T) {
	iss, clk := newIssuer(t)
	tok, _, err := iss.IssueAccess(testUser(), base, "")
	if err != nil {
		t.Fatal(err)
	}
	clk.t = base.Add(time.Hour + 29*time.Second)
	if _, err := iss.ParseAccess(tok); err != nil {
		t.Fatalf("within the leeway after exp: %v", err)
	}
	clk.t = base.Add(time.Hour + 30*time.Second)
	_, err = iss.ParseAccess(tok)
	assertRefused(t, err, token.ReasonExpired)
}

func TestParseReset(t *testing.T) {
	iss, clk := newIssuer(t)
	good := resetMap(base)
	access, _, err := iss.IssueAccess(testUser(), base, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"access token", access, token.ReasonWrongPurpose},
		{"access token claims with a purpose added", hs256(t, with(accessMap(base), "purpose", "login")), token.ReasonWrongPurpose},
		{"another purpose", hs256(t, with(good, "purpose", "email_verify")), token.ReasonWrongPurpose},
		{"purpose of the wrong type", hs256(t, with(good, "purpose", 1)), token.ReasonWrongPurpose},
		{"expired", hs256(t, with(good, "exp", base.Add(-time.Minute).Unix())), token.ReasonExpired},
		{"exp 0", hs256(t, with(good, "exp", 0)), token.ReasonWrongClaims},
		{"signed with another key", sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!"), good), token.ReasonBadSignature},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good), token.ReasonWrongAlg},
		{"HS512", sign(t, jwt.SigningMethodHS512, secret, good), token.ReasonWrongAlg},
		{"wrong aud", hs256(t, with(good, "aud", "x")), token.ReasonWrongAudience},
		{"missing jti", hs256(t, with(good, "jti", nil)), token.ReasonWrongClaims},
		{"200 kB of garbage", strings.Repeat("x.", 100_000), token.ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := iss.ParseReset(tt.token)
			if id != 0 {
				t.Fatalf("id = %d, want 0", id)
			}
			assertRefused(t, err, tt.reason)
		})
	}

	t.Run("a reset token expires after ResetTTL", func(t *testing.T) {
		tok, exp, err := iss.IssueReset(42)
		if err != nil {
			t.Fatal(err)
		}
		clk.t = exp.Add(token.Leeway)
		t.Cleanup(func() { clk.t = base })
		_, err = iss.ParseReset(tok)
		assertRefused(t, err, token.ReasonExpired)
	})
}
