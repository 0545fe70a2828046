package auth

import (
	"net/mail"
	"strings"

	"github.com/authsvc/authsvc/pkg/authsvc"
)

// required adds a "missing" error for an empty value and reports whether it
// was present.
func required(v *authsvc.Validator, value, field string) bool {
	if value == "" {
		v.Add(authsvc.MsgFieldRequired, authsvc.TypeMissing, "body", field)
		return false
	}
	return true
}

// ValidUsername reports whether name is 3–32 characters of A-Z a-z 0-9 _ . -
func ValidUsername(name string) bool {
	if len(name) < authsvc.MinUsernameLen || len(name) > authsvc.MaxUsernameLen {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func validateUsername(v *authsvc.Validator, name, field string) {
	if !required(v, name, field) {
		return
	}
	switch {
	case len(name) < authsvc.MinUsernameLen:
		v.Add(authsvc.MsgUsernameTooShort, authsvc.TypeStringTooShort, "body", field)
	case len(name) > authsvc.MaxUsernameLen:
		v.Add(authsvc.MsgUsernameTooLong, authsvc.TypeStringTooLong, "body", field)
	case !ValidUsername(name):
		v.Add(authsvc.MsgUsernamePattern, authsvc.TypeStringPattern, "body", field)
	}
}

// ValidEmail reports whether addr is one bare email address (no display
// name, no angle brackets) of at most 254 characters.
func ValidEmail(addr string) bool {
	if len(addr) > authsvc.MaxEmailLen {
		return false
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return false
	}
	local, domain, ok := strings.Cut(addr, "@")
	return ok && local != "" && domain != ""
}

func validateEmail(v *authsvc.Validator, addr, field string) {
	if !required(v, addr, field) {
		return
	}
	if len(addr) > authsvc.MaxEmailLen {
		v.Add(authsvc.MsgEmailTooLong, authsvc.TypeStringTooLong, "body", field)
		return
	}
	if !ValidEmail(addr) {
		v.Add(authsvc.MsgEmailInvalid, authsvc.TypeValueError, "body", field)
	}
}

// validatePassword applies the password policy (length, common list).
func (s *Service) validatePassword(v *authsvc.Validator, pw, field string) {
	if required(v, pw, field) {
		s.policy.Validate(field, pw, v)
	}
}
