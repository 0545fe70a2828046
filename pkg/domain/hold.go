package domain

import (
	"context"
	"time"
)

// HoldStatus is the state of a credit hold. A hold starts pending and is
// resolved exactly once: captured, voided, or expired.
type HoldStatus string

// The hold states.
const (
	HoldPending  HoldStatus = "pending"
	HoldCaptured HoldStatus = "captured"
	HoldVoided   HoldStatus = "voided"
	HoldExpired  HoldStatus = "expired"
)

// Valid reports whether s is one of the four hold states.
func (s HoldStatus) Valid() bool {
	switch s {
	case HoldPending, HoldCaptured, HoldVoided, HoldExpired:
		return true
	}
	return false
}

// Hold limits.
const (
	// DefaultHoldTTL is how long a hold lives when the request names no expires_in.
	DefaultHoldTTL = 900 * time.Second
	// MaxHoldTTL is the longest expires_in accepted: 7 days.
	MaxHoldTTL = 7 * 24 * time.Hour
	// DefaultHoldLimit and MaxHoldLimit bound a page of holds.
	DefaultHoldLimit = 50
	MaxHoldLimit     = MaxPageLimit
)

// Hold is a reservation of part of a user's balance (a two-phase debit).
// While pending it lowers what the user can spend (Balance.Available) but
// not the balance itself; a capture writes one credit_used transaction.
type Hold struct {
	ID             int64      `db:"id" json:"id"`
	UserID         int64      `db:"user_id" json:"user_id"`
	Amount         Cents      `db:"amount" json:"amount"`
	Status         HoldStatus `db:"status" json:"status"`
	CapturedAmount *Cents     `db:"captured_amount" json:"captured_amount"`
	TransactionID  *int64     `db:"transaction_id" json:"transaction_id"`
	ReferenceID    *string    `db:"reference_id" json:"reference_id"`
	Description    *string    `db:"description" json:"description"`
	CreatedAt      time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt      time.Time  `db:"expires_at" json:"expires_at"`
	ResolvedAt     *time.Time `db:"resolved_at" json:"resolved_at"`
	// PlacedByAdmin marks a hold an admin placed on another user's account:
	// only admins may capture or void it.
	PlacedByAdmin bool `db:"placed_by_admin" json:"placed_by_admin"`
}

// HoldCapture is the result of a capture: the hold, now captured, and the
// credit_used transaction it wrote.
type HoldCapture struct {
	Hold        *Hold        `json:"hold"`
	Transaction *Transaction `json:"transaction"`
}

// HoldPage is one page of a user's holds, newest first. NextAfter is the
// cursor of the next page (pass it as after), nil on the last page.
type HoldPage struct {
	Holds     []*Hold `json:"holds"`
	NextAfter *int64  `json:"next_after"`
}

// HoldRequest is POST /credits/holds as the client sent it. Amount is the
// raw JSON text (see CreditRequest); ExpiresIn is seconds (nil: the default).
type HoldRequest struct {
	Amount      string
	ExpiresIn   *int64
	ReferenceID *string // idempotency key of the hold; nil or "" means none
	Description *string
	// Username names whose balance to hold (admins only); "" means the caller's.
	Username string
}

// CaptureRequest is POST /credits/holds/{id}/capture. Amount is the raw JSON
// text, "" for the whole hold. ReferenceID is the idempotency key of the
// capture and becomes the reference_id of its credit_used transaction.
type CaptureRequest struct {
	Amount      string
	ReferenceID *string
	Description *string
}

// HoldListRequest selects a page of holds: Status "" for all states, After
// 0 for the first page, Limit 0 for the default.
type HoldListRequest struct {
	Status string
	After  int64
	Limit  int
}

// HoldService is the two-phase ledger's use cases, shared by the HTTP API,
// the CLI and the expiry job. actor is the authenticated caller: an ordinary
// user acts on their own holds only (another user's hold is ENOTFOUND, so
// its existence is not revealed); an admin acts on any hold.
type HoldService interface {
	// CreateHold reserves req's amount of the target's available balance.
	// created is false for a repeat of a reference_id (the original hold is
	// returned in its current state). EVALIDATION for bad fields; EINVALID
	// ("insufficient_credits") beyond the available balance; EFORBIDDEN when a
	// non-admin names another user; ENOTFOUND for an unknown username;
	// ECONFLICT ("idempotency_conflict") for a reference used with another amount.
	CreateHold(ctx context.Context, actor *User, req HoldRequest) (h *Hold, created bool, err error)
	// CaptureHold charges req's amount (default the whole hold) and releases
	// the rest. A repeat with the reference_id of the capture that resolved
	// the hold returns the original result. EVALIDATION for an amount above
	// the hold; *HoldStateError (ECONFLICT "hold_not_pending") when the hold
	// is already resolved; ECONFLICT ("idempotency_conflict") when the
	// reference was used for another transaction; ENOTFOUND.
	CaptureHold(ctx context.Context, actor *User, id int64, req CaptureRequest) (*HoldCapture, error)
	// VoidHold releases a pending hold. Voiding a hold that is already
	// voided or expired returns it unchanged; a captured hold is a
	// *HoldStateError. ENOTFOUND.
	VoidHold(ctx context.Context, actor *User, id int64) (*Hold, error)
	// VoidHoldByID is VoidHold on any user's hold (the admin CLI).
	VoidHoldByID(ctx context.Context, id int64) (*Hold, error)
	// ListHolds returns a page of the actor's holds, newest first.
	// EVALIDATION for an unknown status or a limit outside 1..MaxHoldLimit.
	ListHolds(ctx context.Context, actor *User, req HoldListRequest) (*HoldPage, error)
	// HoldsByUsername is ListHolds for a named user (the admin CLI).
	HoldsByUsername(ctx context.Context, username string, req HoldListRequest) (*HoldPage, error)
	// ExpireHolds resolves due pending holds as expired and returns how many
	// it resolved; safe to run in several replicas at once.
	ExpireHolds(ctx context.Context) (int, error)
}

// NewHold is a validated hold, ready to be stored.
type NewHold struct {
	UserID      int64
	Amount      Cents
	ReferenceID *string
	Description *string
	ExpiresIn   time.Duration
	// PlacedByAdmin: an admin places it on another user's account, so only
	// admins may resolve it (see Hold.PlacedByAdmin).
	PlacedByAdmin bool
}

// HoldResolution is a validated capture or void of one hold.
type HoldResolution struct {
	HoldID int64
	// OwnerID restricts the hold to one user's (ENOTFOUND otherwise); 0 lets
	// any hold through (admins).
	OwnerID int64
	// Amount is what a capture charges; 0 means the whole hold.
	Amount      Cents
	ReferenceID *string
	Description *string
}

// HoldQuery selects a user's holds for HoldStore.ListHolds.
type HoldQuery struct {
	UserID int64
	Status HoldStatus // "" for all
	After  int64      // ids below this one; 0 for the first page
	Limit  int
}

// HoldStore persists holds. Every method that changes a hold does so in one
// database transaction together with the balance row's held total, and a
// hold leaves pending at most once.
type HoldStore interface {
	// CreateHold reserves h.Amount of the available balance (balance − held).
	// EINVALID ("insufficient_credits") when too little is available. A
	// repeat of h.ReferenceID returns the original hold and replayed = true
	// (ECONFLICT "idempotency_conflict" with another amount). ENOTFOUND for
	// an unknown user.
	CreateHold(ctx context.Context, h *NewHold) (hold *Hold, replayed bool, err error)
	// CaptureHold resolves a pending hold as captured (see HoldService).
	// replayed is true when the hold had been captured by the same reference.
	CaptureHold(ctx context.Context, r *HoldResolution) (c *HoldCapture, replayed bool, err error)
	// VoidHold resolves a pending hold as voided (expired if it is past its
	// expiry), see HoldService; resolved is false when the hold had already
	// been voided or expired (it is returned unchanged).
	VoidHold(ctx context.Context, r *HoldResolution) (h *Hold, resolved bool, err error)
	// ListHolds returns up to q.Limit holds, newest first.
	ListHolds(ctx context.Context, q HoldQuery) ([]*Hold, error)
	// ExpireHolds resolves up to limit due pending holds as expired and
	// returns their ids. Concurrent callers never resolve the same hold.
	ExpireHolds(ctx context.Context, limit int) ([]int64, error)
	// UserByUsername matches case-insensitively; ENOTFOUND when none.
	UserByUsername(ctx context.Context, username string) (*User, error)
}

// HoldMetrics is told about every hold that is created or leaves pending,
// with the event: "created" or the new status ("captured", "voided",
// "expired"). Implementations must be safe for concurrent use.
type HoldMetrics interface {
	HoldEvent(event string)
}

// HoldStateError is the refusal of a capture or void of a hold that is no
// longer pending. It carries the hold's current state, which the API sends
// back with the 409.
type HoldStateError struct {
	Hold *Hold
	// Resolved is true when this very request resolved the hold (a capture
	// that found it past its expiry marked it expired).
	Resolved bool
}

// Error implements error.
func (e *HoldStateError) Error() string {
	return ErrHoldNotPending.Message + " (" + string(e.Hold.Status) + ")"
}

// Unwrap makes the code and reason of ErrHoldNotPending visible to ErrorCode.
func (e *HoldStateError) Unwrap() error { return ErrHoldNotPending }

// CaptureExceedsHoldField is the 422 entry of a capture above the hold.
func CaptureExceedsHoldField() FieldError {
	return FieldError{Loc: []string{"body", "amount"}, Msg: MsgCaptureExceedsHold, Type: TypeLessThanEqual}
}
