package account

import (
	"context"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
)

// target resolves the user a request acts on by domain.SelfOrAdmin: the
// caller themself, or — for an admin only — anyone. A non-admin naming
// another user is 403 whether or not that user exists.
func (s *Service) target(ctx context.Context, p *domain.Principal, username string) (*domain.User, error) {
	switch domain.SelfOrAdmin(p.User, username) {
	case domain.AccessSelf:
		return p.User, nil
	case domain.AccessAdmin:
		return s.db.UserByUsername(ctx, username)
	default:
		return nil, domain.ErrForbiddenOtherUser
	}
}

// reauthenticate checks the caller's own password (an admin's own, when
// acting on another user). Each check counts toward the caller's failed-login
// limit exactly like a login, so a stolen token cannot guess the owner's
// password without bound: past the limit it is 429.
//
// When the caller has a second factor on, a current TOTP code (or an unused
// recovery code) is asked for too: 401 mfa_code_required without one,
// invalid_mfa_code / mfa_code_used for a wrong or used one; it counts toward
// the same limit. As at login, only the whole check clears the count: a
// right password alone does not, for an enrolled account, so the code
// cannot be guessed with a fresh count each time.
func (s *Service) reauthenticate(ctx context.Context, p *domain.Principal, password, code string) error {
	on, err := s.db.MFAEnabled(ctx, p.User.ID)
	if err != nil {
		return err
	}
	if on && code == "" { // asked for before the password, which is then not counted
		return domain.ErrMFACodeRequired
	}
	if err := s.reauthenticatePassword(ctx, p, password); err != nil {
		return err
	}
	if !on {
		return s.db.ClearLoginFailures(ctx, strings.ToLower(p.User.Username))
	}
	return s.checkCode(ctx, p.User, code)
}

// RequireCode implements domain.StepUp: nothing when u has no second
// factor on, else a current TOTP code or an unused recovery code of u.
func (s *Service) RequireCode(ctx context.Context, u *domain.User, code string) error {
	on, err := s.db.MFAEnabled(ctx, u.ID)
	if err != nil || !on {
		return err
	}
	return s.checkCode(ctx, u, code)
}

// checkCode checks (and uses up) a TOTP or recovery code of u, whose second
// factor is on; a right one clears u's failure count.
func (s *Service) checkCode(ctx context.Context, u *domain.User, code string) error {
	if code == "" {
		return domain.ErrMFACodeRequired
	}
	totpCode, recovery := code, ""
	if !isTOTPCode(code) {
		totpCode, recovery = "", code
	}
	if _, err := s.secondFactor(ctx, u, totpCode, recovery); err != nil {
		return err
	}
	return s.db.ClearLoginFailures(ctx, strings.ToLower(u.Username))
}

// reauthenticatePassword is the password half of reauthenticate: the
// attempt is counted before the compare, and a right password leaves it
// counted (the caller clears the count once every factor it asks is right).
//
// A passkey-only caller has no password to give: a sign-in within
// domain.RecentSignIn stands in for it, else ErrRecentSignInRequired.
func (s *Service) reauthenticatePassword(ctx context.Context, p *domain.Principal, password string) error {
	if !p.User.HasPassword() {
		if s.recentSignIn(p) {
			return nil
		}
		return domain.ErrRecentSignInRequired
	}
	failures, err := s.reserveLoginAttempt(ctx, strings.ToLower(p.User.Username))
	if err != nil {
		return err
	}
	if err := s.hasher.Compare(p.User.PasswordHash, password); err != nil {
		if isCode(err, domain.EUNAUTHORIZED) {
			s.opts.Metrics.LoginFailed()
			s.recordFailure(ctx, p.User, failures)
			return domain.ErrWrongPassword.With(err)
		}
		return err
	}
	return nil
}

// Me returns the caller, or for an admin the user with userID (0 or the
// caller's own id mean the caller). The caller's row comes from the
// principal: no query.
func (s *Service) Me(ctx context.Context, p *domain.Principal, userID int64) (*domain.User, error) {
	switch domain.SelfOrAdminID(p.User, userID) {
	case domain.AccessSelf:
		return p.User, nil
	case domain.AccessAdmin:
		return s.db.UserByID(ctx, userID)
	default:
		return nil, domain.ErrForbiddenViewOthers
	}
}

// UserDetails returns the named user: self, or anyone for an admin.
func (s *Service) UserDetails(ctx context.Context, p *domain.Principal, username string) (*domain.User, error) {
	return s.target(ctx, p, username)
}

// ChangePassword sets a new password for the named user after checking the
// caller's current password; every earlier token of that user dies, and so
// do their outstanding reset tokens.
func (s *Service) ChangePassword(ctx context.Context, p *domain.Principal, c domain.PasswordChange) error {
	var v domain.Validator
	requirePassword(&v, p, c.CurrentPassword, "current_password")
	s.validatePassword(&v, c.NewPassword, "new_password")
	if err := v.Err(); err != nil {
		return err
	}
	u, err := s.target(ctx, p, c.Username)
	if err != nil {
		return err
	}
	if !u.HasPassword() { // a passkey-only account sets one through a password reset
		return domain.ErrNoPassword
	}
	if err := s.reauthenticate(ctx, p, c.CurrentPassword, c.Code); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(c.NewPassword)
	if err != nil {
		return err
	}
	if _, err := s.db.UpdatePassword(audited(ctx, event(domain.AuditPasswordChanged, p.User.ID, u.ID, nil)), u.ID, hash); err != nil {
		return err
	}
	s.log.Info().Int64("user_id", u.ID).Int64("by_user_id", p.User.ID).Msg("password changed")
	return nil
}

// ChangeEmail sets a new email for the named user after checking the
// caller's password, queues a notice to the old address and a verification
// link to the new one in the same transaction, and kills every earlier
// token and session of the user; the new address is unverified until its
// link is used. With RequireVerifiedEmail the change waits instead: only the
// link and the notice are sent, and the user is returned unchanged; using
// the link makes the change. A taken email is EINVALID (400, as the
// original).
func (s *Service) ChangeEmail(ctx context.Context, p *domain.Principal, c domain.EmailChange) (*domain.User, error) {
	var v domain.Validator
	validateEmail(&v, c.NewEmail, "new_email")
	requirePassword(&v, p, c.CurrentPassword, "current_password")
	if err := v.Err(); err != nil {
		return nil, err
	}
	u, err := s.target(ctx, p, c.Username)
	if err != nil {
		return nil, err
	}
	if err := s.reauthenticate(ctx, p, c.CurrentPassword, c.Code); err != nil {
		return nil, err
	}
	newEmail := domain.CanonicalEmail(c.NewEmail)
	notice := &domain.OutboundEmail{Kind: domain.EmailEmailChanged, Recipient: u.Email,
		Data: map[string]string{domain.EmailKeyUsername: u.Username, domain.EmailKeyOldEmail: u.Email,
			domain.EmailKeyNewEmail: newEmail}}
	verify, link := s.newVerification(u, newEmail)
	if s.opts.RequireVerifiedEmail && newEmail != u.Email {
		return s.requestEmailChange(ctx, p, u, verify, link, notice)
	}
	ev := event(domain.AuditEmailChanged, p.User.ID, u.ID, map[string]any{"old_email": u.Email, "new_email": newEmail})
	updated, err := s.db.UpdateEmail(audited(ctx, ev), u.ID, newEmail, verify, notice, link)
	if isCode(err, domain.ECONFLICT) {
		return nil, domain.ErrEmailTakenOnChange.With(err)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info().Int64("user_id", u.ID).Int64("by_user_id", p.User.ID).Msg("email changed")
	return updated, nil
}

// requestEmailChange sends the link confirming the new address and the
// notice to the old one; the email stays as it is until the link is used.
func (s *Service) requestEmailChange(ctx context.Context, p *domain.Principal, u *domain.User,
	verify *domain.EmailVerification, link, notice *domain.OutboundEmail) (*domain.User, error) {
	if other, err := s.db.UserByEmail(ctx, verify.Email); err == nil && other.ID != u.ID {
		return nil, domain.ErrEmailTakenOnChange
	} else if err != nil && !isCode(err, domain.ENOTFOUND) {
		return nil, err
	}
	notice.Data[domain.EmailKeyPending] = "true"
	ev := event(domain.AuditEmailChangeRequested, p.User.ID, u.ID, map[string]any{"old_email": u.Email, "new_email": verify.Email})
	if _, err := s.db.CreateEmailVerification(audited(ctx, ev), verify, 0, link, notice); err != nil {
		return nil, err
	}
	s.log.Info().Int64("user_id", u.ID).Int64("by_user_id", p.User.ID).Msg("email change requested")
	return u, nil
}

// DeleteAccount deletes the named user after checking the caller's own
// password. Their tokens die with the row.
func (s *Service) DeleteAccount(ctx context.Context, p *domain.Principal, username, password, code string) error {
	var v domain.Validator
	requirePassword(&v, p, password, "password")
	if err := v.Err(); err != nil {
		return err
	}
	u, err := s.target(ctx, p, username)
	if err != nil {
		return err
	}
	if err := s.reauthenticate(ctx, p, password, code); err != nil {
		return err
	}
	ev := event(domain.AuditAccountDeleted, p.User.ID, u.ID, map[string]any{"username": u.Username})
	if err := s.db.DeleteUser(audited(ctx, ev), u.ID); err != nil {
		return err
	}
	s.log.Info().Int64("user_id", u.ID).Int64("by_user_id", p.User.ID).Msg("user deleted")
	return nil
}

// UserByUsername returns the named user (case-insensitive) or ENOTFOUND;
// for `authsvc user show`.
func (s *Service) UserByUsername(ctx context.Context, username string) (*domain.User, error) {
	return s.db.UserByUsername(ctx, username)
}

// ListUsers lists users ordered by id; for `authsvc user list`.
func (s *Service) ListUsers(ctx context.Context, f domain.UserFilter) ([]*domain.User, error) {
	return s.db.ListUsers(ctx, f)
}

// SetAdmin grants or revokes admin rights; for `authsvc user promote
// [--revoke]`. Takes effect on the user's next request. ENOTFOUND.
func (s *Service) SetAdmin(ctx context.Context, username string, isAdmin bool) (*domain.User, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	name := domain.AuditDemoted
	if isAdmin {
		name = domain.AuditPromoted
	}
	u, err = s.db.SetAdmin(audited(ctx, event(name, 0, u.ID, cli(nil))), u.ID, isAdmin)
	if err != nil {
		return nil, err
	}
	s.log.Info().Int64("user_id", u.ID).Bool("is_admin", isAdmin).Msg("admin rights changed")
	return u, nil
}

// DeleteUser deletes the named user without a password; for `authsvc user
// delete`. ENOTFOUND.
func (s *Service) DeleteUser(ctx context.Context, username string) error {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return err
	}
	ev := event(domain.AuditAccountDeleted, 0, u.ID, cli(map[string]any{"username": u.Username}))
	if err := s.db.DeleteUser(audited(ctx, ev), u.ID); err != nil {
		return err
	}
	s.log.Info().Int64("user_id", u.ID).Msg("user deleted")
	return nil
}
