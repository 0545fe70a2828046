package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// holdColumns is the column list every hold query selects.
const holdColumns = `id, user_id, amount, status, captured_amount, transaction_id, reference_id, description,
	created_at, expires_at, resolved_at, placed_by_admin`

// The holds' SQL. Every change to a hold changes user_credits.held in the
// same transaction, through the ledger's one write path (applyLedger,
// ledger.go); the CHECK (held >= 0 AND balance - held >= 0) on that row
// makes "available >= 0" and "released at most once" the database's rules
// too. Lock order, to stay deadlock-free: hold rows first, then balance rows
// (ascending user id when there are several).
const (
	sqlInsertHold = `INSERT INTO credit_holds (user_id, amount, status, reference_id, description, created_at, expires_at,
			placed_by_admin) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?) RETURNING id`
	sqlFindHoldReference = `SELECT ` + holdColumns + ` FROM credit_holds
		WHERE user_id = ? AND placed_by_admin = ? AND reference_id = ?`
	sqlHoldByID    = `SELECT ` + holdColumns + ` FROM credit_holds WHERE id = ?`
	sqlResolveHold = `UPDATE credit_holds SET status = ?, captured_amount = ?, transaction_id = ?, resolved_at = ?
		WHERE id = ? AND status = 'pending' RETURNING id`
	sqlTransactionByID = `SELECT ` + transactionColumns + ` FROM credit_transactions WHERE id = ?`
	sqlDueHolds        = `SELECT id, user_id, amount FROM credit_holds
		WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`
)

// forUpdate returns q with a row-lock clause on PostgreSQL; SQLite has one
// writer at a time (immediate transactions), so it needs none.
func (db *DB) forUpdate(q, clause string) string {
	if db.Dialect == Postgres {
		return q + " " + clause
	}
	return q
}

// CreateHold reserves h.Amount of the user's available balance and records
// the hold, in one transaction, through the ledger's one write path; see
// domain.HoldStore.
func (db *DB) CreateHold(ctx context.Context, h *domain.NewHold) (*domain.Hold, bool, error) {
	out, err := db.applyLedgerTx(ctx, []ledgerOp{{kind: opHold, hold: h}})
	if err != nil {
		return nil, false, err
	}
	return out[0].Hold, out[0].Replayed, out[0].Err
}

// insertHold writes the row of a new hold whose amount was reserved.
func (db *DB) insertHold(ctx context.Context, tx *sqlx.Tx, h *domain.NewHold, now time.Time) (domain.CreditOutcome, error) {
	out := &domain.Hold{UserID: h.UserID, Amount: h.Amount, Status: domain.HoldPending, PlacedByAdmin: h.PlacedByAdmin,
		ReferenceID: h.ReferenceID, Description: h.Description, CreatedAt: now,
		ExpiresAt: now.Add(h.ExpiresIn).Truncate(time.Microsecond)}
	err := db.txQueryRow(ctx, tx, sqlInsertHold, h.UserID, int64(h.Amount), h.ReferenceID, h.Description,
		now, out.ExpiresAt, h.PlacedByAdmin).Scan(&out.ID)
	if err != nil {
		return domain.CreditOutcome{}, fmt.Errorf("insert hold: %w", err)
	}
	return domain.CreditOutcome{Hold: out}, nil
}

// holdReplayError is nil when orig is a true repeat of h (same amount).
func holdReplayError(orig *domain.Hold, h *domain.NewHold) error {
	if orig.Amount != h.Amount {
		return domain.ErrIdempotencyConflict
	}
	return nil
}

// findHoldReference returns the hold on h's account with h's reference that
// h's placer placed: the holds an admin places on a user's account and the
// user's own are separate namespaces of references.
func findHoldReference(ctx context.Context, q sqlx.QueryerContext, h *domain.NewHold) (*domain.Hold, error) {
	var out domain.Hold
	err := sqlx.GetContext(ctx, q, &out, sqlx.Rebind(bindTypeOf(q), sqlFindHoldReference), h.UserID, h.PlacedByAdmin, *h.ReferenceID)
	if err != nil {
		return nil, err
	}
	return utcHold(&out), nil
}

// utcHold normalizes the hold's times to UTC.
func utcHold(h *domain.Hold) *domain.Hold {
	h.CreatedAt, h.ExpiresAt = h.CreatedAt.UTC(), h.ExpiresAt.UTC()
	if h.ResolvedAt != nil {
		t := h.ResolvedAt.UTC()
		h.ResolvedAt = &t
	}
	return h
}

// lockHold reads hold r.HoldID inside tx, locking its row on PostgreSQL.
// Another owner's hold, and for a non-admin a hold an admin placed, is
// domain.ErrHoldNotFound, like a missing one.
func (db *DB) lockHold(ctx context.Context, tx *sqlx.Tx, r *domain.HoldResolution) (*domain.Hold, error) {
	var h domain.Hold
	err := tx.GetContext(ctx, &h, tx.Rebind(db.forUpdate(sqlHoldByID, "FOR UPDATE")), r.HoldID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && r.OwnerID != 0 && (h.UserID != r.OwnerID || h.PlacedByAdmin)) {
		return nil, domain.ErrHoldNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read hold: %w", err)
	}
	return utcHold(&h), nil
}

// resolve moves a locked pending hold to status and returns it updated.
func (db *DB) resolve(ctx context.Context, tx *sqlx.Tx, h *domain.Hold, status domain.HoldStatus,
	captured *domain.Cents, txID *int64, now time.Time) (*domain.Hold, error) {
	var id int64
	err := db.txQueryRow(ctx, tx, sqlResolveHold, string(status), (*int64)(captured), txID, now, h.ID).Scan(&id)
	if err != nil {
		// ErrNoRows: the hold was not pending after all, which the row lock
		// (or SQLite's single writer) rules out; never resolve twice.
		return nil, fmt.Errorf("resolve hold %d: %w", h.ID, err)
	}
	out := *h
	out.Status, out.CapturedAmount, out.TransactionID, out.ResolvedAt = status, captured, txID, &now
	return &out, nil
}

// release gives a pending hold's amount back to the available balance and
// resolves the hold as status (voided or expired), through applyLedger.
func (db *DB) release(ctx context.Context, tx *sqlx.Tx, h *domain.Hold, status domain.HoldStatus) (*domain.Hold, error) {
	out, _, err := db.applyLedger(ctx, tx, []ledgerOp{{kind: opRelease, held: h, status: status}})
	if err != nil {
		return nil, fmt.Errorf("release hold %d: %w", h.ID, err)
	}
	return out[0].Hold, nil
}

// CaptureHold charges a pending hold and releases the rest, in one
// transaction; see domain.HoldStore and domain.HoldService.
func (db *DB) CaptureHold(ctx context.Context, r *domain.HoldResolution) (*domain.HoldCapture, bool, error) {
	if r.Amount < 0 {
		return nil, false, fmt.Errorf("capture hold: bad amount %s", r.Amount)
	}
	if r.ReferenceID != nil && *r.ReferenceID == "" {
		r.ReferenceID = nil
	}
	for _, q := range []string{sqlCaptureBalance, sqlInsertTransaction, sqlResolveHold, sqlReleaseHeld} {
		if _, err := db.prepared(ctx, q); err != nil {
			return nil, false, err
		}
	}
	var (
		out      *domain.HoldCapture
		replayed bool
		refused  error // a refusal that still commits (a due hold resolved as expired)
	)
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		h, err := db.lockHold(ctx, tx, r)
		if err != nil {
			return err
		}
		amount := r.Amount
		if amount == 0 {
			amount = h.Amount
		}
		now := db.Now()
		switch {
		case h.Status != domain.HoldPending:
			out, err = db.captureReplay(ctx, tx, h, r, amount)
			replayed = err == nil
			return err
		case !now.Before(h.ExpiresAt):
			// Due but not yet swept: resolve it as expired now, and refuse.
			h, err = db.release(ctx, tx, h, domain.HoldExpired)
			if err != nil {
				return err
			}
			refused = &domain.HoldStateError{Hold: h, Resolved: true}
			return nil
		case amount > h.Amount:
			return domain.ErrCaptureExceedsHold
		}
		out, err = db.captureInTx(ctx, tx, h, r, amount)
		return err
	})
	if err != nil && isUniqueViolation(err) {
		// The reference was taken by another transaction meanwhile.
		return nil, false, domain.ErrIdempotencyConflict
	}
	if err == nil {
		err = refused
	}
	if err != nil {
		return nil, false, err
	}
	return out, replayed, nil
}

// captureReplay answers a capture of a hold that is no longer pending: the
// original result when the hold was captured by the same reference (and
// amount), else the hold's state as a refusal.
func (db *DB) captureReplay(ctx context.Context, tx *sqlx.Tx, h *domain.Hold, r *domain.HoldResolution, amount domain.Cents) (*domain.HoldCapture, error) {
	if h.Status != domain.HoldCaptured || r.ReferenceID == nil || h.TransactionID == nil {
		return nil, &domain.HoldStateError{Hold: h}
	}
	var t domain.Transaction
	if err := tx.GetContext(ctx, &t, tx.Rebind(sqlTransactionByID), *h.TransactionID); err != nil {
		return nil, fmt.Errorf("read capture transaction: %w", err)
	}
	if t.ReferenceID == nil || *t.ReferenceID != *r.ReferenceID {
		return nil, &domain.HoldStateError{Hold: h}
	}
	if h.CapturedAmount == nil || *h.CapturedAmount != amount {
		return nil, domain.ErrIdempotencyConflict
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return &domain.HoldCapture{Hold: h, Transaction: &t}, nil
}

// captureInTx debits amount and releases the whole hold, writes the
// credit_used transaction and resolves the hold as captured, through
// applyLedger.
func (db *DB) captureInTx(ctx context.Context, tx *sqlx.Tx, h *domain.Hold, r *domain.HoldResolution, amount domain.Cents) (*domain.HoldCapture, error) {
	desc := r.Description
	if desc == nil {
		desc = h.Description
	}
	e := &domain.LedgerEntry{UserID: h.UserID, Type: domain.CreditUsed, Amount: amount, ReferenceID: r.ReferenceID,
		Description: desc}
	out, _, err := db.applyLedger(ctx, tx, []ledgerOp{{kind: opCapture, entry: e, held: h}})
	if err != nil {
		return nil, err
	}
	if out[0].Err != nil {
		return nil, out[0].Err
	}
	return &domain.HoldCapture{Hold: out[0].Hold, Transaction: out[0].Transaction}, nil
}

// VoidHold releases a pending hold (as expired when it is past its expiry);
// a hold already voided or expired is returned unchanged, a captured one is
// refused with its state. See domain.HoldStore.
func (db *DB) VoidHold(ctx context.Context, r *domain.HoldResolution) (*domain.Hold, bool, error) {
	for _, q := range []string{sqlReleaseHeld, sqlResolveHold} {
		if _, err := db.prepared(ctx, q); err != nil {
			return nil, false, err
		}
	}
	var (
		out      *domain.Hold
		resolved bool
	)
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		h, err := db.lockHold(ctx, tx, r)
		if err != nil {
			return err
		}
		switch h.Status {
		case domain.HoldVoided, domain.HoldExpired:
			out = h
			return nil
		case domain.HoldCaptured:
			return &domain.HoldStateError{Hold: h}
		}
		status := domain.HoldVoided
		if !db.Now().Before(h.ExpiresAt) {
			status = domain.HoldExpired
		}
		out, err = db.release(ctx, tx, h, status)
		resolved = err == nil
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, resolved, nil
}

// ListHolds returns up to q.Limit of the user's holds (of q.Status when set)
// with ids below q.After (when set), newest first.
func (db *DB) ListHolds(ctx context.Context, q domain.HoldQuery) (_ []*domain.Hold, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	query := `SELECT ` + holdColumns + ` FROM credit_holds WHERE user_id = ?`
	args := []any{q.UserID}
	if q.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(q.Status))
	}
	if q.After > 0 {
		query += ` AND id < ?`
		args = append(args, q.After)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, q.Limit)
	holds := []*domain.Hold{}
	if err := db.pool.SelectContext(ctx, &holds, db.pool.Rebind(query), args...); err != nil {
		return nil, mapError(fmt.Errorf("list holds: %w", err))
	}
	for _, h := range holds {
		utcHold(h)
	}
	return holds, nil
}

// ExpireHolds resolves up to limit due pending holds as expired, in one
// transaction, and returns their ids. On PostgreSQL the due rows are taken
// with FOR UPDATE SKIP LOCKED, so concurrent sweepers (one per replica)
// split the work and never resolve a hold twice; a capture or void holding
// a hold's lock is skipped and decides that hold itself.
func (db *DB) ExpireHolds(ctx context.Context, limit int) ([]int64, error) {
	var ids []int64
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		now := db.Now()
		var due []struct {
			ID     int64        `db:"id"`
			UserID int64        `db:"user_id"`
			Amount domain.Cents `db:"amount"`
		}
		if err := tx.SelectContext(ctx, &due, tx.Rebind(db.forUpdate(sqlDueHolds, "FOR UPDATE SKIP LOCKED")), now, limit); err != nil {
			return fmt.Errorf("due holds: %w", err)
		}
		if len(due) == 0 {
			return nil
		}
		ops := make([]ledgerOp, len(due))
		for i, d := range due {
			ops[i] = ledgerOp{kind: opRelease, status: domain.HoldExpired,
				held: &domain.Hold{ID: d.ID, UserID: d.UserID, Amount: d.Amount, Status: domain.HoldPending}}
			ids = append(ids, d.ID)
		}
		_, _, err := db.applyLedger(ctx, tx, ops)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

var _ domain.HoldStore = (*DB)(nil)
