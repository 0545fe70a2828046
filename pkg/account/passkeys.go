package account

import (
	"context"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Passkeys lists the user's passkeys, oldest first.
func (s *Service) Passkeys(ctx context.Context, userID int64) ([]*domain.Passkey, error) {
	return s.db.Passkeys(ctx, userID)
}

// AdminDeletePasskey deletes the named user's passkey with that id (the
// CLI's `user passkeys delete`) and audits passkey.removed via cli.
// ErrPasskeyNotFound when the user has no such passkey; ErrLastSignInMethod
// when it is the account's last way to sign in, unless force (the admin's
// recovery: the user then signs in again only after a password reset).
func (s *Service) AdminDeletePasskey(ctx context.Context, username string, id int64, force bool) (*domain.User, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	details := map[string]any{"passkey_id": id}
	if force {
		details["force"] = true
	}
	ev := event(domain.AuditPasskeyRemoved, 0, u.ID, cli(details))
	if err := s.db.DeletePasskey(audited(ctx, ev), u.ID, id, force); err != nil {
		return nil, err
	}
	s.log.Info().Int64("user_id", u.ID).Int64("passkey_id", id).Str("event", ev.Event).Msg("passkey removed")
	return u, nil
}
