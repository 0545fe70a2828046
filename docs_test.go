package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
)

// TestDocsStateTheLimits keeps the numbers the docs give in step with the
// constants that decide them (pkg/domain/limits.go).
func TestDocsStateTheLimits(t *testing.T) {
	for file, phrases := range map[string][]string{
		"docs/http-api.md": {
			fmt.Sprintf("%d–%d bytes", domain.MinPasswordBytes, domain.MaxPasswordBytes),
			fmt.Sprintf("(default %d) failed logins", domain.DefaultFailedLoginLimit),
		},
		"docs/credits.md": {
			"more than " + thousands(int64(domain.MaxAmount/100)) + ".00",
			fmt.Sprintf("`reference_id` ≤ %d characters", domain.MaxReferenceLen),
			fmt.Sprintf("`description` ≤ %d", domain.MaxDescriptionLen),
		},
		"docs/cli.md": {
			fmt.Sprintf("(%d–%d bytes", domain.MinPasswordBytes, domain.MaxPasswordBytes),
		},
		"docs/migrating.md": {
			fmt.Sprintf("(%d–%d characters", domain.MinUsernameLen, domain.MaxUsernameLen),
		},
	} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range phrases {
			if !strings.Contains(string(raw), p) {
				t.Errorf("%s does not say %q", file, p)
			}
		}
	}
}

// thousands writes n with commas: 1,000,000,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
