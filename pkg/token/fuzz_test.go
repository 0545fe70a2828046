package token_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/token"
)

// FuzzParseAccess checks that ParseAccess never panics and always returns
// either claims or an EUNAUTHORIZED *domain.Error with a refusal reason.
// Run with: go test -run '^$' -fuzz FuzzParseAccess ./pkg/token/
func FuzzParseAccess(f *testing.F) {
	iss, _ := newIssuer(f)
	valid, _, err := iss.IssueAccess(testUser(), base, "")
	if err != nil {
		f.Fatal(err)
	}
	reset, _, err := iss.IssueReset(42)
	if err != nil {
		f.Fatal(err)
	}
	h, p, s := segments(f, valid)
	for _, seed := range []string{
		valid, reset, "", ".", "..", "...", "a.b.c", h + "." + p, h + "." + p + ".", valid + ".",
		h + "." + p + "." + s[:len(s)-1], h + "." + b64(`{"sub":1}`) + "." + s,
		sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, accessMap(base)),
		sign(f, jwt.SigningMethodHS512, secret, accessMap(base)),
		hs256(f, with(accessMap(base), "exp", 0)),
		hs256(f, with(accessMap(base), "sub", "9223372036854775808")),
		hs256(f, with(accessMap(base), "exp", 1e300)),
		hs256(f, with(accessMap(base), "ver", 1.5)),
		hs256(f, with(accessMap(base), "aud", []any{1, 2})),
		b64(`{"alg":"HS256"}`) + "." + b64(`null`) + "." + s,
		b64(`{"alg":["HS256"]}`) + "." + p + "." + s,
		strings.Repeat("A", token.MaxTokenBytes+1),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := iss.ParseAccess(tok)
		if err == nil {
			if claims == nil || claims.UserID <= 0 || claims.JTI == "" || claims.ExpiresAt.IsZero() {
				t.Fatalf("accepted with claims %+v", claims)
			}
			if claims.ExpiresAt.Add(token.Leeway).Before(base) {
				t.Fatalf("accepted an expired token: %+v", claims)
			}
			return
		}
		if claims != nil {
			t.Fatalf("claims %+v with error %v", claims, err)
		}
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != domain.EUNAUTHORIZED {
			t.Fatalf("err = %#v, want an EUNAUTHORIZED *domain.Error", err)
		}
		if token.RefusalReason(err) == "" {
			t.Fatalf("no refusal reason for %v", err)
		}
	})
}
