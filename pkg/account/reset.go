package account

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// RequestPasswordReset queues a reset email (a row in the outbox, written
// with the reset token's hash in one transaction) when an account has that
// email, at most one per account per ResetEmailInterval; a throttled request
// writes and sends nothing. The answer is the same, and takes the same time,
// whether or not the account exists: both paths do the one lookup, and the
// token and its writes happen after the response, in the background (see
// Wait). Only a malformed email is an error (422). Both paths log one line,
// so that neither the log nor a count of its lines tells them apart.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	u, err := s.accountByEmail(ctx, email)
	if u == nil {
		if err == nil {
			s.log.Info().Msg("password reset requested for an email no account has")
		}
		return err
	}
	s.inBackground(ctx, u.ID, "password reset request", func(ctx context.Context) error { return s.queueReset(ctx, u) })
	return nil
}

// accountByEmail validates email (the only error a client can cause: 422)
// and returns the account that has it, or nil, nil when none does. The
// reset and verification requests answer alike either way.
func (s *Service) accountByEmail(ctx context.Context, email string) (*domain.User, error) {
	var v domain.Validator
	validateEmail(&v, email, "email")
	if err := v.Err(); err != nil {
		return nil, err
	}
	u, err := s.db.UserByEmail(ctx, email)
	if isCode(err, domain.ENOTFOUND) {
		return nil, nil
	}
	return u, err
}

// Wait blocks until the background work that requests started (reset
// emails being queued) has finished; serve calls it on shutdown.
func (s *Service) Wait() { s.pending.Wait() }

// queueReset issues a reset token for u and queues its email, unless one was
// sent within ResetEmailInterval.
func (s *Service) queueReset(ctx context.Context, u *domain.User) error {
	tok, expiresAt, err := s.tokens.IssueReset(u.ID)
	if err != nil {
		return err
	}
	minutes := int(expiresAt.Sub(s.now()).Round(time.Minute) / time.Minute)
	msg := &domain.OutboundEmail{Kind: domain.EmailPasswordReset, Recipient: u.Email, Data: map[string]string{
		domain.EmailKeyUsername:       u.Username,
		domain.EmailKeyLink:           s.resetLink(tok),
		domain.EmailKeyExpiresMinutes: strconv.Itoa(minutes),
	}}
	ctx = audited(ctx, event(domain.AuditPasswordResetRequest, 0, u.ID, nil))
	created, err := s.db.CreateResetToken(ctx, u.ID, domain.HashToken(tok), expiresAt, s.opts.ResetEmailInterval, msg)
	switch {
	case isCode(err, domain.ENOTFOUND): // deleted meanwhile
		return nil
	case err != nil:
		return err
	case created:
		s.log.Info().Int64("user_id", u.ID).Msg("password reset requested")
	default:
		s.log.Info().Int64("user_id", u.ID).Msg("password reset request throttled")
	}
	return nil
}

// resetLink is <FrontendURL>/reset-password?token=<token>; it is never
// built from a request's Host header.
func (s *Service) resetLink(tok string) string {
	return strings.TrimRight(s.opts.FrontendURL, "/") + "/reset-password?token=" + url.QueryEscape(tok)
}

// ResetPassword sets a new password with a reset token. The token must be a
// valid reset JWT whose row is unused and unexpired; of concurrent resets
// with one token exactly one succeeds. The user's other reset tokens die and
// the token version bumps, killing every access token.
func (s *Service) ResetPassword(ctx context.Context, tok, newPassword string) error {
	var v domain.Validator
	required(&v, tok, "token")
	s.validatePassword(&v, newPassword, "new_password")
	if err := v.Err(); err != nil {
		return err
	}
	userID, err := s.tokens.ParseReset(tok)
	if err != nil {
		return domain.ErrInvalidResetToken.With(err)
	}
	hash, err := s.hasher.Hash(newPassword)
	if err != nil {
		return err
	}
	// A reset of an account whose email nobody had proved claims it (the
	// store removes the ways in added before); the event says so.
	var details map[string]any
	if before, err := s.db.UserByID(ctx, userID); err == nil && !before.EmailVerified() {
		details = map[string]any{"email_verified": true, "claimed": true}
	}
	ctx = audited(ctx, event(domain.AuditPasswordReset, userID, userID, details))
	u, err := s.db.ConsumeResetToken(ctx, domain.HashToken(tok), userID, hash)
	if err != nil {
		return err
	}
	s.log.Info().Int64("user_id", u.ID).Bool("claimed", details != nil).Msg("password reset")
	return nil
}

// Purge deletes expired revocations, reset tokens, verification links and
// sessions, ended failed-login windows, and (in batches) audit events past
// the retention.
func (s *Service) Purge(ctx context.Context) error {
	st, err := s.db.Purge(ctx, s.opts.FailedLoginWindow)
	if err != nil {
		return err
	}
	audit, err := s.pruneAudit(ctx)
	if err != nil {
		return err
	}
	s.log.Debug().Int64("revoked_tokens", st.RevokedTokens).Int64("reset_tokens", st.ResetTokens).
		Int64("login_failures", st.LoginFailures).Int64("sessions", st.Sessions).
		Int64("verifications", st.Verifications).Int64("mfa_challenges", st.MFAChallenges).
		Int64("passkey_challenges", st.PasskeyChallenges).Int64("federation_flows", st.FederationFlows).
		Int64("federation_codes", st.FederationCodes).Int64("audit_events", audit).Msg("purged expired auth data")
	return nil
}

// RunJanitor calls Purge every interval until ctx is done; failures are
// logged and retried at the next tick. Run it in its own goroutine.
func (s *Service) RunJanitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("purge of expired auth data failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
