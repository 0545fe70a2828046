package domain

import (
	"context"
	"time"
)

// Session is one login: every access token issued by it and by its refreshes
// carries its ID as the sid claim. Ending a session ends those tokens.
type Session struct {
	ID          string    `db:"id" json:"id"`
	UserID      int64     `db:"user_id" json:"-"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
	RefreshedAt time.Time `db:"refreshed_at" json:"refreshed_at"` // last refresh; the creation time until then
	ExpiresAt   time.Time `db:"expires_at" json:"expires_at"`     // created_at + auth.max_session_hours
	ClientIP    string    `db:"client_ip" json:"client_ip"`
	UserAgent   string    `db:"user_agent" json:"user_agent"`
}

// Logout scopes (POST /auth/logout?scope=), as in supabase/auth.
const (
	LogoutLocal  = "local"  // the caller's session (the default)
	LogoutOthers = "others" // every session of the caller but the current one
	LogoutGlobal = "global" // every session of the caller
)

// SessionStore persists sessions. EUNAVAILABLE when the database cannot be
// reached.
type SessionStore interface {
	// CreateSession inserts s.
	CreateSession(ctx context.Context, s *Session) error
	// Sessions lists the user's unexpired sessions, newest first.
	Sessions(ctx context.Context, userID int64) ([]*Session, error)
	// EndSession deletes the user's session id; ENOTFOUND when the user has
	// no such session.
	EndSession(ctx context.Context, userID int64, id string) error
	// EndSessions deletes every session of the user except the one with id
	// except ("" ends all) and returns how many ended.
	EndSessions(ctx context.Context, userID int64, except string) (int64, error)
	// RefreshSession revokes the token jti until revokeUntil and stamps the
	// session's refresh time, in one transaction. ECONFLICT (Reason
	// token_revoked) when jti was already revoked.
	RefreshSession(ctx context.Context, jti string, revokeUntil time.Time, sessionID string) error
}

// Client describes who sent a request: the client IP (after the trusted
// proxies), the User-Agent and the request id. The HTTP API puts it in the
// request's context; sessions and audit events record it.
type Client struct {
	IP        string
	UserAgent string
	RequestID string
}

type clientKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the Client in ctx, or the zero Client (the CLI).
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// EmailVerification is a single-use link confirming that Email belongs to
// the user: the registered address, or a new one awaiting confirmation. The
// database keeps only the SHA-256 of its token.
type EmailVerification struct {
	UserID    int64
	Email     string
	TokenHash string
	ExpiresAt time.Time
}

// VerificationStore persists email verification links.
type VerificationStore interface {
	// CreateEmailVerification stores v and queues mail in one transaction,
	// unless the user got a verification link less than minInterval ago: then
	// it writes nothing and returns false. ENOTFOUND when the user is gone.
	CreateEmailVerification(ctx context.Context, v *EmailVerification, minInterval time.Duration, mail ...*OutboundEmail) (bool, error)
	// ConsumeEmailVerification uses the unused, unexpired link with that
	// token hash: the user's email becomes the link's address, verified now
	// (when it differs, as an email change: the token version bumps and the
	// sessions end). It returns the user and whether the address changed.
	// EINVALID (Reason invalid_token) for an unknown, used or expired link;
	// ECONFLICT (Reason email_taken) when the address was taken meanwhile.
	ConsumeEmailVerification(ctx context.Context, tokenHash string) (*User, bool, error)
	// SetEmailVerified marks the user's current email verified (the CLI).
	// ENOTFOUND.
	SetEmailVerified(ctx context.Context, userID int64) (*User, error)
	// RegisterUser is UserStore.CreateUser that also stores verify (the
	// link confirming the new user's email; its UserID is set) in the same
	// transaction. ErrUsernameTaken, ErrEmailTaken.
	RegisterUser(ctx context.Context, u *User, verify *EmailVerification, mail ...*OutboundEmail) error
}
