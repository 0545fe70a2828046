package domain

import (
	"context"
	"sync"
	"time"
)

// Audit event names (GET /admin/audit?event=).
const (
	AuditRegistered           = "user.registered"
	AuditLoginSucceeded       = "login.succeeded"
	AuditLoginFailed          = "login.failed"
	AuditLoginLimited         = "login.limited"
	AuditLogout               = "logout"
	AuditRefreshed            = "token.refreshed"
	AuditTokenIssued          = "token.issued" // by the CLI (`authsvc token issue`)
	AuditPasswordChanged      = "password.changed"
	AuditPasswordResetRequest = "password.reset_requested"
	AuditPasswordReset        = "password.reset"
	AuditEmailVerified        = "email.verified"
	AuditEmailChanged         = "email.changed"
	AuditEmailChangeRequested = "email.change_requested"
	AuditAccountDeleted       = "user.deleted"
	AuditPromoted             = "user.promoted"
	AuditDemoted              = "user.demoted"
	AuditSessionsEnded        = "sessions.ended"
	AuditCreditsAdded         = "credits.added"
	AuditCreditsUsed          = "credits.used"
	AuditKeyGenerated         = "key.generated" // signing keys (`authsvc keys …`)
	AuditKeyActivated         = "key.activated"
	AuditKeyRetired           = "key.retired"
	AuditAPIKeyCreated        = "api_key.created"
	AuditAPIKeyRevoked        = "api_key.revoked"
)

// AuditEvents lists every event name.
var AuditEvents = []string{AuditRegistered, AuditLoginSucceeded, AuditLoginFailed, AuditLoginLimited, AuditLogout,
	AuditRefreshed, AuditTokenIssued, AuditPasswordChanged, AuditPasswordResetRequest, AuditPasswordReset, AuditEmailVerified,
	AuditEmailChanged, AuditEmailChangeRequested, AuditAccountDeleted, AuditPromoted, AuditDemoted,
	AuditSessionsEnded, AuditCreditsAdded, AuditCreditsUsed, AuditKeyGenerated, AuditKeyActivated, AuditKeyRetired,
	AuditAPIKeyCreated, AuditAPIKeyRevoked,
	AuditOIDCClientCreated, AuditOIDCClientDeleted, AuditOIDCClientSecretRotated,
	AuditOIDCConsentGranted, AuditOIDCConsentRevoked, AuditOIDCRefreshReused, AuditOIDCCodeReplayed,
	AuditMFAEnabled, AuditMFADisabled, AuditMFAReset, AuditMFAChallenged, AuditMFAFailed, AuditRecoveryCodeOK,
	AuditPasskeyRemoved, AuditPasskeyAdded, AuditPasskeyCloned, AuditIdentityLinked, AuditIdentityUnlinked}

// Audit events of passkeys.
const (
	AuditPasskeyRemoved = "passkey.removed"
)

// AuditEvent is one security event. ActorID is who acted (0: nobody known,
// e.g. the CLI or a failed login), TargetID whose account it concerns.
// Details is a small JSON object; it never holds a password, token, hash or
// secret.
type AuditEvent struct {
	ID        int64          `json:"id"`
	CreatedAt time.Time      `json:"created_at"`
	Event     string         `json:"event"`
	ActorID   int64          `json:"actor_id,omitempty"`
	TargetID  int64          `json:"target_id,omitempty"`
	ClientIP  string         `json:"client_ip"`
	UserAgent string         `json:"user_agent"`
	RequestID string         `json:"request_id"`
	Details   map[string]any `json:"details"`
	// ActorIsTarget makes SetSubject fill in the actor too (self-registration).
	ActorIsTarget bool `json:"-"`
}

// AuditFilter selects events for GET /admin/audit and `authsvc audit list`.
type AuditFilter struct {
	UserID int64     // events whose actor or target is this user; 0: all
	Event  string    // one event name; "": all
	Since  time.Time // created at or after; zero: no bound
	Until  time.Time // created before; zero: no bound
	Cursor int64     // events with a smaller id than this (the previous page's last); 0: from the newest
	Limit  int       // at most this many (1..200)
}

// AuditQuery is GET /admin/audit's and `authsvc audit list`'s filter as
// given: User is a username or a numeric id, times are RFC 3339, Cursor the
// previous page's next_cursor.
type AuditQuery struct {
	User, Event, Since, Until, Cursor string
	Limit                             int // 0: 50
}

// AuditPage is one page of events, newest first; NextCursor is "" on the
// last page.
type AuditPage struct {
	Events     []*AuditEvent
	NextCursor string
}

// AuditStore keeps the audit trail. Events of a change are written in the
// change's own transaction: attach them to the context of the store call
// with WithAudit.
type AuditStore interface {
	// RecordAudit writes events that have no change of their own (a failed
	// login) in a transaction of their own.
	RecordAudit(ctx context.Context, events ...*AuditEvent) error
	// AuditEvents lists events newest first (by id).
	AuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
	// PruneAudit deletes up to batch events created before cutoff and
	// returns how many it deleted.
	PruneAudit(ctx context.Context, cutoff time.Time, batch int) (int64, error)
}

// PendingAudit is the audit events attached to a context for the store
// call that makes their change: the store writes them in that call's
// transaction, once.
type PendingAudit struct {
	mu      sync.Mutex
	events  []*AuditEvent
	written bool
	skipped bool
}

type auditKey struct{}

// WithAudit returns ctx carrying events for the one store call made with
// it: the store writes them in the transaction of its change, filling in
// the time and the Client of ctx, or not at all when the change fails.
func WithAudit(ctx context.Context, events ...*AuditEvent) context.Context {
	return context.WithValue(ctx, auditKey{}, &PendingAudit{events: events})
}

// AuditFrom returns the pending events of ctx, or nil.
func AuditFrom(ctx context.Context) *PendingAudit {
	p, _ := ctx.Value(auditKey{}).(*PendingAudit)
	return p
}

// Take returns the events to write now: none when they were written
// already or the store skipped them (the call changed nothing).
func (p *PendingAudit) Take() []*AuditEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.written || p.skipped {
		return nil
	}
	return p.events
}

// MarkWritten records that the events were committed.
func (p *PendingAudit) MarkWritten() {
	p.mu.Lock()
	p.written = true
	p.mu.Unlock()
}

// Skip drops the events: the store call changed nothing (a throttled
// request, an idempotent repeat).
func (p *PendingAudit) Skip() {
	p.mu.Lock()
	p.skipped = true
	p.mu.Unlock()
}

// Annotate sets a detail on every pending event (e.g. the id of the ledger
// row the store just wrote).
func (p *PendingAudit) Annotate(key string, value any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		e.Details[key] = value
	}
}

// SetSubject fills in the id of the user a store call turned out to concern
// target (and, with ActorIsTarget, the actor) of every pending event
// without a target.
func (p *PendingAudit) SetSubject(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		if e.TargetID == 0 {
			e.TargetID = id
			if e.ActorIsTarget {
				e.ActorID = id
			}
		}
	}
}
