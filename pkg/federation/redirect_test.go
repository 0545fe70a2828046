package federation_test

import (
	"testing"

	"github.com/authsvc/authsvc/pkg/federation"
)

func TestRedirectAllowed(t *testing.T) {
	allow := []string{"https://app.example.com/auth/done", "https://admin.example.com/oauth/*"}
	for to, want := range map[string]bool{
		"https://app.example.com/auth/done":              true,
		"https://app.example.com/auth/done?next=/x":      true, // the query may vary
		"https://APP.example.com/auth/done":              true, // the host compares case-insensitively
		"https://app.example.com/auth/done/more":         false,
		"https://app.example.com/auth/Done":              false, // the path exactly
		"http://app.example.com/auth/done":               false, // another scheme
		"https://app.example.com.evil.example/auth/done": false,
		"https://app.example.com/auth/done#frag":         false,
		"https://user@app.example.com/auth/done":         false,
		"https://admin.example.com/oauth/":               true,
		"https://admin.example.com/oauth/cb/deeper":      true,
		"https://admin.example.com/oauth":                false, // not below the prefix
		"https://admin.example.com/oauthx/cb":            false,
		"https://admin.example.com/oauth/../steal":       false,
		"https://admin.example.com/oauth/..":             false,
		"javascript:alert(1)":                            false,
		"/relative":                                      false, // only the service takes its own paths, not the list
		"":                                               false,
	} {
		if got := federation.RedirectAllowed(allow, to); got != want {
			t.Errorf("RedirectAllowed(%q) = %t, want %t", to, got, want)
		}
	}
}
