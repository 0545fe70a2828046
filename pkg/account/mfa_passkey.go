package account

import (
	"context"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The account side of a passkey as the second step after the password
// (pkg/passkeys runs the WebAuthn ceremony): the login's mfa_token, the
// per-account failure limit and the audit events are those of a TOTP code.

// MFAUser returns the user of an unexpired mfa_token without counting an
// attempt (the start of the ceremony checks nothing);
// ErrInvalidMFAToken.
func (s *Service) MFAUser(ctx context.Context, mfaToken string) (*domain.User, error) {
	var v domain.Validator
	required(&v, mfaToken, "mfa_token")
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.db.MFAChallenge(ctx, domain.HashToken(mfaToken))
	if err != nil {
		return nil, err
	}
	return s.mfaTokenUser(ctx, c)
}

// AttemptMFAPasskey counts an attempt at the mfa_token (at most
// MFAMaxFailures, as codes) and one toward the account's failed-login
// limit, before the passkey's answer is checked, and returns the token's
// user and the amr value of the login's first step (the password, or an
// upstream provider). ErrInvalidMFAToken, ERATELIMIT.
func (s *Service) AttemptMFAPasskey(ctx context.Context, mfaToken string) (*domain.User, string, error) {
	c, err := s.db.AttemptMFAChallenge(ctx, domain.HashToken(mfaToken), domain.MFAMaxFailures)
	if err != nil {
		return nil, "", err
	}
	u, err := s.mfaTokenUser(ctx, c)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.reserveLoginAttempt(ctx, strings.ToLower(u.Username)); err != nil {
		return nil, "", err
	}
	return u, c.FirstFactor, nil
}

func (s *Service) mfaTokenUser(ctx context.Context, c *domain.MFAChallenge) (*domain.User, error) {
	u, err := s.db.UserByID(ctx, c.UserID)
	if isCode(err, domain.ENOTFOUND) {
		return nil, domain.ErrInvalidMFAToken
	}
	return u, err
}

// MFAPasskeyFailed records a refused passkey second step of u, like a wrong
// code (mfa.failed); the attempts stay counted.
func (s *Service) MFAPasskeyFailed(ctx context.Context, u *domain.User, reason string) {
	s.opts.Metrics.LoginFailed()
	s.record(ctx, event(domain.AuditMFAFailed, 0, u.ID, map[string]any{"method": domain.MethodWebAuthn, "reason": reason}))
}

// CompleteMFAPasskey ends the login of mfaToken after u's verified passkey
// assertion (amr: the first step's and the passkey's kind): the token is used
// up (of concurrent completions exactly one wins, the others get
// ErrInvalidMFAToken), the failure count cleared, the sign-in audited.
func (s *Service) CompleteMFAPasskey(ctx context.Context, mfaToken string, u *domain.User, amr []string) (*domain.AccessToken, error) {
	if err := s.db.DeleteMFAChallenge(ctx, domain.HashToken(mfaToken)); err != nil {
		return nil, err
	}
	if err := s.db.ClearLoginFailures(ctx, strings.ToLower(u.Username)); err != nil {
		return nil, err
	}
	s.opts.Metrics.LoginSucceeded()
	ev := event(domain.AuditLoginSucceeded, u.ID, u.ID, map[string]any{"mfa": domain.MethodWebAuthn, "amr": amr})
	return s.startSessionAMR(ctx, u, ev, amr)
}
