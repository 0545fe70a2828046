package domain

import (
	"context"
	"time"
)

// Keys of OutboundEmail.Data. Every kind takes EmailKeyUsername; the others
// are required by the kinds named. EmailKeyProductName is optional and
// overrides the product name configured for the mail renderer.
const (
	EmailKeyUsername       = "username"        // all kinds
	EmailKeyProductName    = "product_name"    // optional, all kinds
	EmailKeyLink           = "link"            // password_reset, verify_email: the full URL, built from mail.frontend_url
	EmailKeyExpiresMinutes = "expires_minutes" // password_reset: the link's lifetime in minutes, e.g. "30"
	EmailKeyOldEmail       = "old_email"       // email_changed: the previous address (the notice goes there)
	EmailKeyNewEmail       = "new_email"       // email_changed: the new address
	EmailKeyPending        = "pending"         // email_changed, optional: "true" while the new address awaits confirmation
	EmailKeyExpiresHours   = "expires_hours"   // verify_email: the link's lifetime in hours, e.g. "24"
)

// Outbox is the storage the mail worker drains. Rows are written by the use
// cases in the same transaction as the change that causes them; the worker
// claims due rows under a lease, sends them and records the outcome.
//
// Every method taking a claimed email is fenced on (ID, Attempts): it returns
// ECONFLICT when the row is no longer pending with that attempt count (the
// lease was lost to another worker), and changes nothing.
type Outbox interface {
	// ClaimEmails leases up to limit due pending emails: it increments their
	// Attempts and moves their NextAttemptAt lease ahead, so that no other
	// worker claims them until the lease runs out. Safe across processes.
	ClaimEmails(ctx context.Context, limit int, lease time.Duration) ([]*OutboundEmail, error)
	// RenewEmailLease moves a claimed email's lease to lease from now,
	// fenced on its attempt count: ECONFLICT (reason email_lease_lost) when
	// another worker claimed it since or it is no longer pending. A worker
	// renews before and while it sends, and stops the send when the lease is
	// lost.
	RenewEmailLease(ctx context.Context, e *OutboundEmail, lease time.Duration) error
	// MarkEmailSent records a successful send and clears the stored data
	// (which may hold a reset link).
	MarkEmailSent(ctx context.Context, e *OutboundEmail) error
	// RetryEmail makes a claimed email due again after delay, keeping lastErr.
	RetryEmail(ctx context.Context, e *OutboundEmail, delay time.Duration, lastErr string) error
	// FailEmail gives up on a claimed email for good, keeping lastErr and
	// clearing the stored data.
	FailEmail(ctx context.Context, e *OutboundEmail, lastErr string) error
	// ReleaseEmail returns an unsent claimed email to the queue, due now,
	// without counting the attempt (used at shutdown).
	ReleaseEmail(ctx context.Context, e *OutboundEmail) error
	// OutboxStats returns the number of pending emails and the age of the
	// oldest one (0 when none is pending).
	OutboxStats(ctx context.Context) (depth int, oldest time.Duration, err error)
}
