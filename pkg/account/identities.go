package account

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The account side of sign-ins through upstream identity providers
// (pkg/federation runs the protocol): which account an identity signs in
// to, when it may be linked or create one, and the same verified-email and
// MFA policy and audit events as a password sign-in. docs/federation.md
// states the rules.

// FederatedSignIn signs in the account of the identity x, which the
// provider pol verified:
//   - an identity linked already signs in to its account (its email is
//     refreshed when the provider says it is verified);
//   - else a provider-verified email that an account has verified too
//     links the identity to that account and signs in;
//   - else any account with that email refuses (ErrIdentityExists): its
//     owner signs in another way and links the provider from there, so an
//     unverified email never takes an account over;
//   - else a new account without a password is made (ErrFederatedSignUpOff
//     when the provider's auto_create is off).
//
// An account with a second factor then gets an mfa_token, unless the
// provider is trusted for MFA and reported one.
func (s *Service) FederatedSignIn(ctx context.Context, pol domain.ProviderPolicy, x domain.ExternalIdentity) (*domain.AccessToken, error) {
	if err := emailDomainAllowed(pol, x); err != nil {
		return nil, err
	}
	u, err := s.federatedUser(ctx, pol, x)
	if isCode(err, domain.ECONFLICT) && domain.ErrorReason(err) == domain.ReasonIdentityTaken {
		u, err = s.federatedUser(ctx, pol, x) // a concurrent first sign-in of the same identity linked it first
	}
	if err != nil {
		return nil, err
	}
	return s.federatedSession(ctx, pol, x, u)
}

// federatedUser returns the account x signs in to, linking or creating it
// as FederatedSignIn says.
func (s *Service) federatedUser(ctx context.Context, pol domain.ProviderPolicy, x domain.ExternalIdentity) (*domain.User, error) {
	userID, err := s.db.UseIdentity(ctx, x)
	switch {
	case err == nil:
		return s.db.UserByID(ctx, userID)
	case !isCode(err, domain.ENOTFOUND):
		return nil, err
	case x.Email == "":
		return nil, domain.ErrProviderEmailMissing
	}
	u, err := s.db.UserByEmail(ctx, x.Email)
	switch {
	case err == nil && x.EmailVerified && u.EmailVerified():
		return u, s.link(ctx, u, x, "verified_email")
	case err == nil:
		s.record(ctx, event(domain.AuditLoginFailed, 0, u.ID, map[string]any{"method": "federated", "provider": x.Provider,
			"reason": domain.ReasonIdentityExists}))
		return nil, domain.ErrIdentityExists
	case !isCode(err, domain.ENOTFOUND):
		return nil, err
	case !pol.AutoCreate:
		return nil, domain.ErrFederatedSignUpOff
	case !x.EmailVerified:
		// An account made for an email nobody has proved would let whoever
		// controls the provider account keep it once the email's owner
		// verified it (pre-account hijacking).
		return nil, domain.ErrProviderEmailUnverified
	}
	return s.createFederated(ctx, x)
}

// link links x to u, audited.
func (s *Service) link(ctx context.Context, u *domain.User, x domain.ExternalIdentity, how string) error {
	i := &domain.Identity{UserID: u.ID, Provider: x.Provider, Subject: x.Subject, Email: x.Email, EmailVerified: x.EmailVerified}
	ev := event(domain.AuditIdentityLinked, u.ID, u.ID, map[string]any{"provider": x.Provider, "email": x.Email, "via": how})
	if err := s.db.LinkIdentity(audited(ctx, ev), i); err != nil {
		return err
	}
	s.log.Info().Int64("user_id", u.ID).Str("provider", x.Provider).Str("via", how).Msg("identity linked")
	return nil
}

// createFederated makes a new account without a password for x, whose
// email the provider verified, under the provider's username or the
// email's local part (with a number added while it is taken).
func (s *Service) createFederated(ctx context.Context, x domain.ExternalIdentity) (*domain.User, error) {
	base := usernameFrom(x)
	for n := 0; ; n++ {
		name := base
		if n > 0 {
			suffix := "-" + randomDigits(4)
			name = base[:min(len(base), domain.MaxUsernameLen-len(suffix))] + suffix
		}
		now := s.now()
		u := &domain.User{Username: name, Email: x.Email, PasswordHash: domain.NoPassword, EmailVerifiedAt: &now}
		welcome := &domain.OutboundEmail{Kind: domain.EmailWelcome, Recipient: u.Email,
			Data: map[string]string{domain.EmailKeyUsername: u.Username}}
		i := &domain.Identity{Provider: x.Provider, Subject: x.Subject, Email: x.Email, EmailVerified: true}
		reg := event(domain.AuditRegistered, 0, 0, map[string]any{"is_admin": false, "email_verified": true,
			"provider": x.Provider})
		reg.ActorIsTarget = true
		linked := event(domain.AuditIdentityLinked, 0, 0, map[string]any{"provider": x.Provider, "email": x.Email, "via": "sign_up"})
		linked.ActorIsTarget = true
		err := s.db.CreateFederatedUser(audited(ctx, reg, linked), u, i, nil, welcome)
		switch {
		case err == nil:
			s.log.Info().Int64("user_id", u.ID).Str("provider", x.Provider).Msg("user created by an identity provider")
			return u, nil
		case domain.ErrorReason(err) == domain.ErrUsernameTaken.Reason && n < 5:
			continue
		case domain.ErrorReason(err) == domain.ErrEmailTaken.Reason:
			// An account with the email was made meanwhile: by a concurrent
			// first sign-in of this identity (FederatedSignIn's retry then
			// signs in to it), or by someone else (the retry answers 409).
			return nil, domain.ErrIdentityTaken
		default:
			return nil, err
		}
	}
}

// federatedSession starts the session of u after a sign-in through a
// provider, or asks for u's second factor.
func (s *Service) federatedSession(ctx context.Context, pol domain.ProviderPolicy, x domain.ExternalIdentity, u *domain.User) (*domain.AccessToken, error) {
	if s.opts.RequireVerifiedEmail && !u.EmailVerified() {
		return nil, domain.ErrEmailNotVerified
	}
	amr := []string{domain.AMRFederated}
	upstreamMFA := false
	if pol.TrustMFA {
		upstreamMFA = domain.UpstreamMFA(x.AMR)
		for _, m := range x.AMR {
			if !slices.Contains(amr, m) {
				amr = append(amr, m)
			}
		}
		if upstreamMFA && !slices.Contains(amr, domain.AMRMFA) {
			amr = append(amr, domain.AMRMFA)
		}
	}
	enrolled, err := s.db.MFAEnabled(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if enrolled && !upstreamMFA {
		keys, err := s.db.Passkeys(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		tok, challenge := s.newChallenge(u, domain.AMRFederated, len(keys) > 0)
		if err := s.finishLogin(ctx, &domain.LoginFinish{Challenge: challenge}); err != nil {
			return nil, err
		}
		return tok, nil
	}
	s.opts.Metrics.LoginSucceeded()
	ev := event(domain.AuditLoginSucceeded, u.ID, u.ID, map[string]any{"method": "federated", "provider": x.Provider, "amr": amr})
	return s.startSessionAMR(ctx, u, ev, amr)
}

// LinkIdentity links x, which the provider pol verified, to the signed-in
// user p (the flow was started by them with a recent sign-in or their
// password). The identity linked to them already is a no-op;
// ErrIdentityTaken when it is another user's.
func (s *Service) LinkIdentity(ctx context.Context, pol domain.ProviderPolicy, userID int64, x domain.ExternalIdentity) error {
	if err := emailDomainAllowed(pol, x); err != nil {
		return err
	}
	i, err := s.db.IdentityBySubject(ctx, x.Provider, x.Subject)
	switch {
	case err == nil && i.UserID == userID:
		_, err := s.db.UseIdentity(ctx, x)
		return err
	case err == nil:
		return domain.ErrIdentityTaken
	case !isCode(err, domain.ENOTFOUND):
		return err
	}
	u, err := s.db.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	return s.link(ctx, u, x, "account")
}

// Identities lists the identities linked to the signed-in user.
func (s *Service) Identities(ctx context.Context, p *domain.Principal) ([]*domain.Identity, error) {
	return s.db.Identities(ctx, p.User.ID)
}

// UnlinkIdentity removes one of the signed-in user's identities, unless it
// is their last way to sign in (ErrLastSignInMethod); audited.
func (s *Service) UnlinkIdentity(ctx context.Context, p *domain.Principal, id int64) error {
	return s.unlink(ctx, event(domain.AuditIdentityUnlinked, p.User.ID, p.User.ID, map[string]any{}), p.User.ID, id)
}

// AdminIdentities lists a user's identities (`authsvc user show`).
func (s *Service) AdminIdentities(ctx context.Context, userID int64) ([]*domain.Identity, error) {
	return s.db.Identities(ctx, userID)
}

// AdminUnlinkIdentity removes an identity of the named user by the CLI,
// with the same last-way rule; audited.
func (s *Service) AdminUnlinkIdentity(ctx context.Context, username string, id int64) (*domain.User, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	return u, s.unlink(ctx, event(domain.AuditIdentityUnlinked, 0, u.ID, cli(nil)), u.ID, id)
}

// unlink deletes the user's identity id with the audit event ev (its
// details name the provider).
func (s *Service) unlink(ctx context.Context, ev *domain.AuditEvent, userID, id int64) error {
	ids, err := s.db.Identities(ctx, userID)
	if err != nil {
		return err
	}
	k := slices.IndexFunc(ids, func(i *domain.Identity) bool { return i.ID == id })
	if k < 0 {
		return domain.ErrIdentityNotFound
	}
	ev.Details["provider"], ev.Details["identity_id"] = ids[k].Provider, id
	if _, err := s.db.UnlinkIdentity(audited(ctx, ev), userID, id); err != nil {
		return err
	}
	s.log.Info().Int64("user_id", userID).Str("provider", ids[k].Provider).Msg("identity unlinked")
	return nil
}

// emailDomainAllowed applies the provider's allowed_email_domains: a
// verified email in one of them, or ErrEmailDomainNotAllowed.
func emailDomainAllowed(pol domain.ProviderPolicy, x domain.ExternalIdentity) error {
	if len(pol.AllowedEmailDomains) == 0 {
		return nil
	}
	at := strings.LastIndexByte(x.Email, '@')
	if !x.EmailVerified || at < 0 || !slices.Contains(pol.AllowedEmailDomains, strings.ToLower(x.Email[at+1:])) {
		return domain.ErrEmailDomainNotAllowed
	}
	return nil
}

// usernameFrom suggests a username for a new account of x: the provider's
// (preferred_username, GitHub's login) or the email's local part, cut to
// the characters and length a username may have.
func usernameFrom(x domain.ExternalIdentity) string {
	for _, c := range []string{x.Username, strings.SplitN(x.Email, "@", 2)[0]} {
		name := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
				return r
			}
			return -1
		}, c)
		if len(name) > domain.MaxUsernameLen {
			name = name[:domain.MaxUsernameLen]
		}
		if domain.ValidUsername(name) {
			return name
		}
	}
	return "user-" + randomDigits(6)
}

// randomDigits returns n (at most 18) random decimal digits.
func randomDigits(n int) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return fmt.Sprintf("%0*d", n, binary.BigEndian.Uint64(b[:])%uint64(math.Pow10(n)))
}
