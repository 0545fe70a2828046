package account

import (
	"context"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The account side of passkey sign-ins (pkg/passkeys runs the WebAuthn
// ceremonies): the same per-account failure limit, verified-email and MFA
// policy and audit events as a password sign-in.

// PasskeyAttempt counts a passkey sign-in attempt of u toward the
// per-account failure limit before its assertion is checked, like a
// password (ERATELIMIT once the window's attempts are used up).
func (s *Service) PasskeyAttempt(ctx context.Context, u *domain.User) error {
	_, err := s.reserveLoginAttempt(ctx, strings.ToLower(u.Username))
	return err
}

// PasskeyFailed records a failed passkey sign-in of u; the attempt stays
// counted.
func (s *Service) PasskeyFailed(ctx context.Context, u *domain.User, reason string) {
	s.opts.Metrics.LoginFailed()
	s.record(ctx, event(domain.AuditLoginFailed, 0, u.ID, map[string]any{"username": u.Username, "method": "passkey",
		"reason": reason}))
}

// SignInPasskey starts a session for u after a verified passkey assertion
// whose methods are amr. An account with TOTP needs two factors: a passkey
// that verified the user (amr with "user"); a verified email when
// auth.require_verified_email.
func (s *Service) SignInPasskey(ctx context.Context, u *domain.User, amr []string) (*domain.AccessToken, error) {
	if s.opts.RequireVerifiedEmail && !u.EmailVerified() {
		return nil, domain.ErrEmailNotVerified
	}
	f, err := s.db.TOTP(ctx, u.ID)
	switch {
	case err == nil && f.Confirmed() && domain.AALOf(amr) != domain.AAL2:
		return nil, domain.ErrPasskeyUV
	case err != nil && !isCode(err, domain.EINVALID):
		return nil, err
	}
	if err := s.db.ClearLoginFailures(ctx, strings.ToLower(u.Username)); err != nil {
		return nil, err
	}
	s.opts.Metrics.LoginSucceeded()
	ev := event(domain.AuditLoginSucceeded, u.ID, u.ID, map[string]any{"method": "passkey", "amr": amr})
	return s.startSessionAMR(ctx, u, ev, amr)
}

// RecentOrPassword lets a caller who signed in within domain.RecentSignIn
// through, and otherwise checks their password (counted like a login):
// the step-up before adding a passkey.
func (s *Service) RecentOrPassword(ctx context.Context, p *domain.Principal, password string) error {
	return s.recentOrPassword(ctx, p, password)
}
