package account

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// maxVerifyTokenBytes bounds a submitted verification token before hashing.
const maxVerifyTokenBytes = 128

// newVerifyToken returns 256 random bits, base64url: a verification link's
// token. The database keeps only its SHA-256.
func newVerifyToken() string { return domain.RandomToken(32) }

// verifyLink is <FrontendURL>/verify-email?token=<token>; it is never built
// from a request's Host header.
func (s *Service) verifyLink(tok string) string {
	return strings.TrimRight(s.opts.FrontendURL, "/") + "/verify-email?token=" + url.QueryEscape(tok)
}

// newVerification makes a verification link of u for email and the mail
// carrying it.
func (s *Service) newVerification(u *domain.User, email string) (*domain.EmailVerification, *domain.OutboundEmail) {
	tok := newVerifyToken()
	v := &domain.EmailVerification{UserID: u.ID, Email: domain.CanonicalEmail(email), TokenHash: domain.HashToken(tok),
		ExpiresAt: s.now().Add(s.opts.VerifyTTL)}
	msg := &domain.OutboundEmail{Kind: domain.EmailVerify, Recipient: v.Email, Data: map[string]string{
		domain.EmailKeyUsername:     u.Username,
		domain.EmailKeyLink:         s.verifyLink(tok),
		domain.EmailKeyExpiresHours: strconv.Itoa(int(s.opts.VerifyTTL.Round(time.Hour) / time.Hour)),
	}}
	return v, msg
}

// queueVerification stores a verification link for u's current email and
// queues its mail, unless one was sent within minInterval (0: always).
func (s *Service) queueVerification(ctx context.Context, u *domain.User, minInterval time.Duration) (bool, error) {
	v, msg := s.newVerification(u, u.Email)
	return s.db.CreateEmailVerification(ctx, v, minInterval, msg)
}

// VerifyEmail uses a verification link's token: the address it was sent to
// becomes the user's verified email (for a pending email change, the change
// takes effect now, ending the user's sessions). Single use; EINVALID
// (Reason invalid_token, 400) for an unknown, used, expired or other kind of
// token; EINVALID (Reason email_taken) when the new address was taken
// meanwhile.
func (s *Service) VerifyEmail(ctx context.Context, tok string) (*domain.User, error) {
	var v domain.Validator
	required(&v, tok, "token")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(tok) > maxVerifyTokenBytes {
		return nil, domain.ErrInvalidVerifyToken
	}
	ev := event(domain.AuditEmailVerified, 0, 0, nil)
	ev.ActorIsTarget = true
	u, changed, err := s.db.ConsumeEmailVerification(audited(ctx, ev), domain.HashToken(tok))
	switch {
	case isCode(err, domain.EINVALID):
		return nil, domain.ErrInvalidVerifyToken.With(err)
	case isCode(err, domain.ECONFLICT):
		return nil, domain.ErrEmailTakenOnChange.With(err)
	case err != nil:
		return nil, err
	}
	s.log.Info().Int64("user_id", u.ID).Bool("email_changed", changed).Msg("email verified")
	return u, nil
}

// ResendVerification queues a new verification link when an unverified
// account has that email, at most one per account per VerifyInterval. The
// answer is the same, and takes the same time, whether or not the account
// exists or is verified: both do the one lookup, and the writes happen after
// the response, in the background (see Wait). Only a malformed email is an
// error (422). Every path logs one line, so that the log's line count does
// not tell them apart either.
func (s *Service) ResendVerification(ctx context.Context, email string) error {
	u, err := s.accountByEmail(ctx, email)
	if err != nil {
		return err
	}
	if u == nil || u.EmailVerified() {
		s.log.Info().Msg("verification email requested for an email no unverified account has")
		return nil
	}
	s.inBackground(ctx, u.ID, "verification resend", func(ctx context.Context) error {
		sent, err := s.queueVerification(ctx, u, s.opts.VerifyInterval)
		if isCode(err, domain.ENOTFOUND) { // deleted meanwhile
			return nil
		}
		if err == nil {
			s.log.Info().Int64("user_id", u.ID).Bool("sent", sent).Msg("verification email requested")
		}
		return err
	})
	return nil
}

// inBackground runs fn after the response, bounded by the background slots
// (dropped when all are busy, as a throttled request is) and waited for by
// Wait.
func (s *Service) inBackground(ctx context.Context, userID int64, what string, fn func(ctx context.Context) error) {
	select {
	case s.background <- struct{}{}:
	default:
		s.log.Warn().Int64("user_id", userID).Msg(what + " dropped: too many in progress")
		return
	}
	s.pending.Add(1)
	go func() {
		defer func() { <-s.background; s.pending.Done() }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := fn(ctx); err != nil {
			s.log.Error().Err(err).Int64("user_id", userID).Msg(what + " failed")
		}
	}()
}

// VerifyUser marks the named user's email verified; for `authsvc user
// verify`. ENOTFOUND.
func (s *Service) VerifyUser(ctx context.Context, username string) (*domain.User, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	ev := event(domain.AuditEmailVerified, 0, u.ID, cli(nil))
	if u, err = s.db.SetEmailVerified(audited(ctx, ev), u.ID); err != nil {
		return nil, err
	}
	s.log.Info().Int64("user_id", u.ID).Msg("email marked verified")
	return u, nil
}
