package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/domain"
)

// EnrolTOTP signs the user in with password, enrols them in TOTP through
// the account use cases and returns the secret. The confirming code's step
// is spent: the next sign-in uses NextTOTPCode.
func EnrolTOTP(t testing.TB, auth *account.Service, username, password string) string {
	t.Helper()
	ctx := context.Background()
	tok, err := auth.Login(ctx, username, password)
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.Authenticate(ctx, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	en, err := auth.EnrollTOTP(ctx, p, password)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(en.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.ConfirmTOTP(ctx, p, code); err != nil {
		t.Fatal(err)
	}
	return en.Secret
}

// NextTOTPCode is the code of the next 30-second step (one step of skew is
// accepted), so it is not the step the enrolment spent.
func NextTOTPCode(t testing.TB, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(domain.TOTPPeriod*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return code
}
