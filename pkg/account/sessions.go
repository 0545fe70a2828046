package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// cliUserAgent is the user agent of sessions the CLI starts (token issue).
const cliUserAgent = "authsvc-cli"

// newSessionID returns 128 random bits, hex-encoded.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// startSession starts a session for u (a login, a registration or `token
// issue`) with the client of ctx, and issues its first access token. ttl 0
// is a login: the configured token lifetime, the session lasting
// MaxSession. A positive ttl is the CLI's custom lifetime: the session lasts
// at least as long as the token. ev, when not nil, is recorded with the
// session (its details get the session id).
func (s *Service) startSession(ctx context.Context, u *domain.User, ttl time.Duration, ev *domain.AuditEvent) (*domain.AccessToken, error) {
	return s.startSessionWith(ctx, u, ttl, ev, nil)
}

// startSessionAMR starts a login's session whose tokens carry amr (and its aal).
func (s *Service) startSessionAMR(ctx context.Context, u *domain.User, ev *domain.AuditEvent, amr []string) (*domain.AccessToken, error) {
	return s.startSessionWith(ctx, u, 0, ev, amr)
}

func (s *Service) startSessionWith(ctx context.Context, u *domain.User, ttl time.Duration, ev *domain.AuditEvent, amr []string) (*domain.AccessToken, error) {
	sess := s.newSession(ctx, u, ttl)
	now := sess.CreatedAt
	if ev != nil {
		if ev.Details == nil {
			ev.Details = map[string]any{}
		}
		ev.Details["session_id"] = sess.ID
		ctx = audited(ctx, ev)
	}
	if err := s.db.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return s.issue(u, now, sess.ID, amr)
	}
	tok, claims, err := s.tokens.IssueAccessTTL(u, now, ttl, sess.ID)
	if err != nil {
		return nil, err
	}
	s.opts.Metrics.TokenIssued()
	return &domain.AccessToken{Token: tok, Claims: claims}, nil
}

// newSession returns a new session of u with the client of ctx, starting
// now and lasting MaxSession, or ttl when longer (see startSession).
func (s *Service) newSession(ctx context.Context, u *domain.User, ttl time.Duration) *domain.Session {
	now := s.now()
	client := domain.ClientFrom(ctx)
	sess := &domain.Session{ID: newSessionID(), UserID: u.ID, CreatedAt: now, RefreshedAt: now,
		ExpiresAt: now.Add(max(s.opts.MaxSession, ttl)), ClientIP: client.IP, UserAgent: client.UserAgent}
	if ttl > 0 && client.UserAgent == "" {
		sess.UserAgent = cliUserAgent
	}
	return sess
}

// Logout ends the caller's sessions by scope: LogoutLocal ("" too) the
// current one (and revokes the presented token, which is all a token
// without sid has), LogoutOthers every other one, LogoutGlobal all of them.
// Logging out twice concurrently is not an error. EVALIDATION for another
// scope.
func (s *Service) Logout(ctx context.Context, p *domain.Principal, scope string) error {
	if scope == "" {
		scope = domain.LogoutLocal
	}
	ev := event(domain.AuditLogout, p.User.ID, p.User.ID, map[string]any{"scope": scope, "session_id": p.SessionID()})
	switch scope {
	case domain.LogoutLocal, domain.LogoutGlobal:
		revokeCtx := ctx
		if p.SessionID() == "" && scope == domain.LogoutLocal {
			revokeCtx = audited(ctx, ev) // nothing else changes
		}
		err := s.db.RevokeToken(revokeCtx, p.Claims.JTI, p.Claims.ExpiresAt.Add(revocationMargin))
		if err != nil && !isCode(err, domain.ECONFLICT) {
			return err
		}
		if scope == domain.LogoutGlobal {
			_, err := s.db.EndSessions(audited(ctx, ev), p.User.ID, "")
			return err
		}
		if sid := p.SessionID(); sid != "" {
			if err := s.db.EndSession(audited(ctx, ev), p.User.ID, sid); err != nil && !isCode(err, domain.ENOTFOUND) {
				return err
			}
		}
		return nil
	case domain.LogoutOthers:
		_, err := s.db.EndSessions(audited(ctx, ev), p.User.ID, p.SessionID())
		return err
	default:
		var v domain.Validator
		v.Add(domain.MsgLogoutScope, domain.TypeLiteralError, "query", "scope")
		return v.Err()
	}
}

// Sessions lists the caller's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, p *domain.Principal) ([]*domain.Session, error) {
	return s.db.Sessions(ctx, p.User.ID)
}

// EndSession ends one of the caller's sessions: its tokens stop working at
// once. ENOTFOUND for an unknown id or another user's session.
func (s *Service) EndSession(ctx context.Context, p *domain.Principal, id string) error {
	ev := event(domain.AuditSessionsEnded, p.User.ID, p.User.ID, map[string]any{"session_id": id})
	if err := s.db.EndSession(audited(ctx, ev), p.User.ID, id); err != nil {
		return err // domain.ErrSessionNotFound
	}
	return nil
}

// UserSessions lists the named user's live sessions; for `authsvc user
// sessions`. ENOTFOUND.
func (s *Service) UserSessions(ctx context.Context, username string) (*domain.User, []*domain.Session, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, nil, err
	}
	sessions, err := s.db.Sessions(ctx, u.ID)
	return u, sessions, err
}

// LogoutUser ends every session of the named user and returns how many
// ended; for `authsvc user logout`. ENOTFOUND.
func (s *Service) LogoutUser(ctx context.Context, username string) (int64, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return 0, err
	}
	n, err := s.db.EndSessions(audited(ctx, event(domain.AuditSessionsEnded, 0, u.ID, cli(nil))), u.ID, "")
	if err != nil {
		return 0, err
	}
	s.log.Info().Int64("user_id", u.ID).Int64("sessions", n).Msg("sessions ended")
	return n, nil
}
