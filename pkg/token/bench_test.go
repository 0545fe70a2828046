package token_test

import (
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/token"
)

func benchIssuer(b *testing.B) *token.Issuer {
	b.Helper()
	iss, err := token.New(token.Config{Secret: secret, Issuer: "authsvc", Audience: "authsvc",
		AccessTTL: time.Hour, ResetTTL: 30 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	return iss
}

// BenchmarkIssueAccess measures signing an access token, on all cores.
func BenchmarkIssueAccess(b *testing.B) {
	iss := benchIssuer(b)
	u := testUser()
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := iss.IssueAccess(u, now, ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkParseAccess measures verifying an access token, on all cores.
func BenchmarkParseAccess(b *testing.B) {
	iss := benchIssuer(b)
	tok, _, err := iss.IssueAccess(testUser(), time.Now(), "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := iss.ParseAccess(tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
