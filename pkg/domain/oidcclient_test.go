package domain

import "testing"

func TestValidRedirectURI(t *testing.T) {
	for uri, want := range map[string]bool{
		"https://app.example.com/callback":         true,
		"https://app.example.com:8443/cb?x=1":      true,
		"http://localhost:5173/callback":           true,
		"http://127.0.0.1:8080/cb":                 true,
		"http://[::1]:8080/cb":                     true,
		"com.example.app:/callback":                true,
		"http://app.example.com/callback":          false, // http only on loopback
		"https://app.example.com/cb#frag":          false,
		"https://user:pw@app.example.com/cb":       false,
		"https://*.example.com/cb":                 false,
		"/callback":                                false,
		"javascript:alert(1)":                      false,
		"myapp:/callback":                          false, // a private-use scheme needs a dot
		"https:///nohost":                          false,
		"":                                         false,
		"https://app.example.com/call back":        false,
		"data:text/html,<script>alert(1)</script>": false,
	} {
		if got := ValidRedirectURI(uri); got != want {
			t.Errorf("ValidRedirectURI(%q) = %t, want %t", uri, got, want)
		}
	}
}
