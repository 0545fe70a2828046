package domain

import (
	"net/mail"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// The identity rule: what a username and an email address may be (the
// numbers are in limits.go). Registration, email change, the CLI and user
// import all check with these.

// ValidUsername reports whether name is 3–32 characters of A-Z a-z 0-9 _ . -
func ValidUsername(name string) bool {
	if len(name) < MinUsernameLen || len(name) > MaxUsernameLen {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// CanonicalEmail is the one form an email address is stored, compared and
// looked up in: lower case, Unicode NFC, so that "José@" typed with a
// precomposed é and with e + a combining accent is one address. Usernames
// need no such step: ValidUsername allows ASCII only.
func CanonicalEmail(addr string) string {
	return norm.NFC.String(strings.ToLower(addr))
}

// ValidEmail reports whether addr is one bare email address (no display
// name, no angle brackets) of at most 254 characters.
func ValidEmail(addr string) bool {
	if len(addr) > MaxEmailLen {
		return false
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return false
	}
	local, host, ok := strings.Cut(addr, "@")
	return ok && local != "" && host != ""
}
