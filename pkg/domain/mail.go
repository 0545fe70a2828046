package domain

import "time"

// Email kinds; each has a template pair under templates/.
const (
	EmailWelcome       = "welcome"
	EmailPasswordReset = "password_reset"
	EmailEmailChanged  = "email_changed"
	EmailVerify        = "verify_email"
)

// OutboundEmail is a message waiting in the outbox. It is written in the same
// transaction as the change that causes it and rendered from its template
// when it is sent, so the request path does no email work.
type OutboundEmail struct {
	ID            int64             `db:"id"`
	Kind          string            `db:"kind"`      // one of the Email* constants
	Recipient     string            `db:"recipient"` // an email address
	Data          map[string]string `db:"-"`         // template data: username, link, ...
	Attempts      int               `db:"attempts"`
	NextAttemptAt time.Time         `db:"next_attempt_at"`
	CreatedAt     time.Time         `db:"created_at"`
}
