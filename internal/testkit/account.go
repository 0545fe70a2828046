package testkit

import (
	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// AccountOptions are the account use cases' options with the values of the
// default configuration, for tests that build the use cases without `cmd`.
func AccountOptions() account.Options {
	return account.Options{
		MaxSession:         domain.DefaultMaxSession,
		FrontendURL:        domain.DefaultFrontendURL,
		FailedLoginLimit:   domain.DefaultFailedLoginLimit,
		FailedLoginWindow:  domain.DefaultFailedLoginWindow,
		ResetEmailInterval: domain.ResetEmailInterval,
		VerifyTTL:          domain.DefaultVerifyTTL,
		VerifyInterval:     domain.VerifyEmailInterval,
		AuditRetention:     domain.DefaultAuditRetention,
		TOTPIssuer:         "authsvc",
		Logger:             zerolog.Nop(),
	}
}
