package account

import (
	"github.com/authsvc/authsvc/pkg/domain"
)

// required adds a "missing" error for an empty value and reports whether it
// was present.
func required(v *domain.Validator, value, field string) bool {
	if value == "" {
		v.Add(domain.MsgFieldRequired, domain.TypeMissing, "body", field)
		return false
	}
	return true
}

func validateUsername(v *domain.Validator, name, field string) {
	if !required(v, name, field) {
		return
	}
	switch {
	case len(name) < domain.MinUsernameLen:
		v.Add(domain.MsgUsernameTooShort, domain.TypeStringTooShort, "body", field)
	case len(name) > domain.MaxUsernameLen:
		v.Add(domain.MsgUsernameTooLong, domain.TypeStringTooLong, "body", field)
	case !domain.ValidUsername(name):
		v.Add(domain.MsgUsernamePattern, domain.TypeStringPattern, "body", field)
	}
}

func validateEmail(v *domain.Validator, addr, field string) {
	if !required(v, addr, field) {
		return
	}
	if len(addr) > domain.MaxEmailLen {
		v.Add(domain.MsgEmailTooLong, domain.TypeStringTooLong, "body", field)
		return
	}
	if !domain.ValidEmail(addr) {
		v.Add(domain.MsgEmailInvalid, domain.TypeValueError, "body", field)
	}
}

// validatePassword applies the password policy (length, common list).
func (s *Service) validatePassword(v *domain.Validator, pw, field string) {
	if required(v, pw, field) {
		s.policy.Validate(field, pw, v)
	}
}
