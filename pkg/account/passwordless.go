package account

import (
	"context"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Accounts without a password: made by a sign-up with a passkey instead of
// a password, or by an identity provider (PasswordHash domain.NoPassword).
// Such a user sets a password only through a password reset; where a
// password confirms an operation, a recent sign-in (domain.RecentSignIn)
// does instead.

// CheckSignUp checks a passkey sign-up's username and email before its
// ceremony starts, as Register would (422 for a malformed one, 409 for a
// taken one), so that nobody makes a passkey for an account that cannot
// be. The account's insert checks again.
func (s *Service) CheckSignUp(ctx context.Context, username, email string) error {
	var v domain.Validator
	validateUsername(&v, username, "username")
	validateEmail(&v, email, "email")
	if err := v.Err(); err != nil {
		return err
	}
	if _, err := s.db.UserByUsername(ctx, username); err == nil {
		return domain.ErrUsernameTaken
	} else if !isCode(err, domain.ENOTFOUND) {
		return err
	}
	if _, err := s.db.UserByEmail(ctx, domain.CanonicalEmail(email)); err == nil {
		return domain.ErrEmailTaken
	} else if !isCode(err, domain.ENOTFOUND) {
		return err
	}
	return nil
}

// RegisterWithPasskey creates a passkey-only account: r's username and
// email, the id the ceremony's user handle was made of, no password, and
// its first passkey k, with the welcome mail and the email's verification
// link, in one transaction; then signs it in with the passkey's amr.
// Audited: user.registered and passkey.added. The username and email were
// checked when the ceremony began (CheckSignUp); one taken meanwhile is the
// insert's ErrUsernameTaken or ErrEmailTaken.
func (s *Service) RegisterWithPasskey(ctx context.Context, r domain.Registration, id int64, k *domain.Passkey, amr []string) (*domain.User, *domain.AccessToken, error) {
	u := &domain.User{ID: id, Username: r.Username, Email: domain.CanonicalEmail(r.Email), PasswordHash: domain.NoPassword}
	welcome := &domain.OutboundEmail{Kind: domain.EmailWelcome, Recipient: u.Email,
		Data: map[string]string{domain.EmailKeyUsername: u.Username}}
	verify, link := s.newVerification(u, u.Email)
	registered := event(domain.AuditRegistered, 0, 0, map[string]any{"is_admin": false, "email_verified": false, "method": "passkey"})
	added := event(domain.AuditPasskeyAdded, 0, 0, map[string]any{"name": k.Name})
	registered.ActorIsTarget, added.ActorIsTarget = true, true
	if err := s.db.RegisterPasskeyUser(audited(ctx, registered, added), u, k, verify, welcome, link); err != nil {
		return nil, nil, err
	}
	s.log.Info().Int64("user_id", u.ID).Msg("user created with a passkey")
	tok, err := s.startSessionAMR(ctx, u, nil, amr)
	if err != nil {
		return nil, nil, err
	}
	return u, tok, nil
}

// recentSignIn reports whether p's token comes from a sign-in within
// domain.RecentSignIn.
func (s *Service) recentSignIn(p *domain.Principal) bool {
	return p.Claims != nil && !p.Claims.AuthTime.IsZero() && s.now().Sub(p.Claims.AuthTime) <= domain.RecentSignIn
}

// requirePassword adds field's "required" to v unless the caller has no
// password to give (a passkey-only account: a recent sign-in stands in).
func requirePassword(v *domain.Validator, p *domain.Principal, password, field string) {
	if p.User.HasPassword() {
		required(v, password, field)
	}
}
