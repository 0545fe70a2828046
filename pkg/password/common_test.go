package password_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/password"
)

func TestCommonList(t *testing.T) {
	h := newHasher(t)

	t.Run("holds at least 10000 distinct passwords", func(t *testing.T) {
		if n := h.CommonCount(); n < 10000 {
			t.Fatalf("CommonCount() = %d, want >= 10000", n)
		}
	})

	t.Run("common passwords are refused whatever their case", func(t *testing.T) {
		for _, pw := range []string{"password", "PASSWORD", "PassWord", "123456789", "qwertyuiop",
			"QwertyUIOP", "iloveyou", "password123", "PassWord123", "passw0rd", "sunshine"} {
			if !h.IsCommon(pw) {
				t.Errorf("IsCommon(%q) = false, want true", pw)
			}
		}
	})

	t.Run("match is on the whole password, not a substring", func(t *testing.T) {
		for _, pw := range []string{"password-9f3kq2", "xpasswordx", "password ", " password",
			"Tr0ub4dor&3-horse", "correct horse battery staple"} {
			if h.IsCommon(pw) {
				t.Errorf("IsCommon(%q) = true, want false", pw)
			}
		}
	})
}

func TestValidate(t *testing.T) {
	h := newHasher(t)
	tests := []struct {
		name    string
		pw      string
		wantMsg string // "" means valid
		wantTyp string
	}{
		{"8 bytes is enough", "k9#mQ2vL", "", ""},
		{"72 bytes is allowed", strings.Repeat("k9#mQ2vL", 9), "", ""},
		{"7 bytes is too short", "k9#mQ2v", password.MsgTooShort, "string_too_short"},
		{"empty is too short", "", password.MsgTooShort, "string_too_short"},
		{"4 two-byte characters are 8 bytes", "éèàü", "", ""},
		{"73 bytes is too long", strings.Repeat("a", 73), password.MsgTooLong, "string_too_long"},
		{"37 two-byte characters are too long", strings.Repeat("é", 37), password.MsgTooLong, "string_too_long"},
		{"a common password is refused", "iloveyou", password.MsgCommon, "value_error"},
		{"a common password in capitals is refused", "QWERTYUIOP", password.MsgCommon, "value_error"},
		{"a numeric common password is refused", "123456789", password.MsgCommon, "value_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v domain.Validator
			h.Validate("new_password", tt.pw, &v)
			err := v.Err()
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want no error", err)
				}
				return
			}
			var e *domain.Error
			if !errors.As(err, &e) || e.Code != domain.EVALIDATION {
				t.Fatalf("err = %v, want an EVALIDATION error", err)
			}
			if len(e.Fields) != 1 {
				t.Fatalf("got %d field errors, want 1: %+v", len(e.Fields), e.Fields)
			}
			f := e.Fields[0]
			if !slices.Equal(f.Loc, []string{"body", "new_password"}) || f.Msg != tt.wantMsg || f.Type != tt.wantTyp {
				t.Fatalf("field = %+v, want loc [body new_password] msg %q type %q", f, tt.wantMsg, tt.wantTyp)
			}
			if strings.Contains(f.Msg, tt.pw) && tt.pw != "" {
				t.Fatal("message contains the password")
			}
		})
	}
}
