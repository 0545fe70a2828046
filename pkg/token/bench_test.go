package token_test

import (
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/token"
)

// benchAlgs are the signing algorithms compared by the benchmarks: the
// secret (HS256) first, then each asymmetric key type.
var benchAlgs = append([]string{token.AlgHS256}, token.AsymmetricAlgs()...)

// benchIssuer returns an issuer that signs with alg.
func benchIssuer(b *testing.B, alg string) *token.Issuer {
	b.Helper()
	iss, err := token.New(token.Config{Secret: secret, Issuer: "authsvc",
		AccessTTL: time.Hour, ResetTTL: 30 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if alg != token.AlgHS256 {
		if err := iss.SetKeys([]domain.SigningKey{storedKey(b, alg, domain.KeyActive)}, sealer(b)); err != nil {
			b.Fatal(err)
		}
	}
	return iss
}

// BenchmarkIssueAccess measures signing an access token per algorithm, on
// all cores.
func BenchmarkIssueAccess(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			iss := benchIssuer(b, alg)
			u := testUser()
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := iss.IssueAccess(u, now, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkParseAccess measures verifying an access token per algorithm, on
// all cores.
func BenchmarkParseAccess(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			iss := benchIssuer(b, alg)
			tok, _, err := iss.IssueAccess(testUser(), time.Now(), "")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := iss.ParseAccess(tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
