package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/authsvc/authsvc/pkg/domain"
)

// On PostgreSQL a use or an add is one statement, one round trip and one
// implicit transaction: the balance change, the ledger row and the audit
// event as data-modifying WITH clauses. The ledger row is inserted without
// seq and numbered by the credit_transactions_number trigger (migration
// 0005): the trigger's query runs when the row is inserted, after the
// balance row's lock was granted, with a snapshot of its own, so it sees
// every row committed before — where a subquery of the statement itself
// would see only what was committed when the statement began. The balance
// row's lock is held for no network round trip, only the commit.

// The ledger row and the optional audit event, after the balance change b.
// Arguments: user id, amount, type, reference, description, created_at;
// then auditValues.
const (
	sqlLedgerRowAfterBalance = `,
	t AS (INSERT INTO credit_transactions (user_id, amount, transaction_type, reference_id, description, balance_after, created_at)
		SELECT CAST(? AS bigint), CAST(? AS bigint), ?, ?, ?, b.balance, CAST(? AS timestamptz) FROM b
		RETURNING id, seq)`
	sqlAuditOfLedgerRow = `,
	a AS (INSERT INTO audit_events (` + auditInsertColumns + `)
		SELECT CAST(? AS timestamptz), ?, CAST(? AS bigint), CAST(? AS bigint), ?, ?, ?,
			(CAST(? AS jsonb) || jsonb_build_object('transaction_id', t.id))::text
		FROM t RETURNING id)
	SELECT t.id, t.seq, b.balance, a.id AS audit_id FROM b, t, a`
	sqlNoAuditOfLedgerRow = `
	SELECT t.id, t.seq, b.balance, 0 AS audit_id FROM b, t`
)

// sqlApplyCredit is the statement of a use (or an add) with (or without)
// an audit event; four texts, each prepared once.
func sqlApplyCredit(use, audited bool) string {
	change := sqlAddCredit
	if use {
		change = sqlUseCredits
	}
	q := `WITH b AS (` + change + `)` + sqlLedgerRowAfterBalance
	if audited {
		return q + sqlAuditOfLedgerRow
	}
	return q + sqlNoAuditOfLedgerRow
}

// applyInOneStatement is a use or an add alone on PostgreSQL (applyLedgerTx).
// A repeat of a reference fails the statement on the unique index (nothing
// of it is kept) and returns the original row.
func (db *DB) applyInOneStatement(ctx context.Context, e *domain.LedgerEntry) ([]domain.CreditOutcome, error) {
	t, replayed, err := db.applyStatement(ctx, e)
	if err != nil && (errors.Is(err, domain.ErrInsufficientCredits) || errors.Is(err, domain.ErrBalanceLimit) ||
		errors.Is(err, domain.ErrIdempotencyConflict)) {
		return []domain.CreditOutcome{{Transaction: t, Replayed: replayed, Err: err}}, nil
	}
	if err != nil {
		return nil, err
	}
	return []domain.CreditOutcome{{Transaction: t, Replayed: replayed}}, nil
}

// applyStatement runs the one statement of a use or an add.
func (db *DB) applyStatement(ctx context.Context, e *domain.LedgerEntry) (*domain.Transaction, bool, error) {
	now := db.Now()
	var args []any
	if e.Type == domain.CreditUsed {
		args = []any{-int64(e.Amount), now, e.UserID, int64(e.Amount)}
	} else {
		args = []any{e.UserID, int64(e.Amount), now, int64(domain.MaxBalance)}
	}
	args = append(args, e.UserID, int64(e.Amount), string(e.Type), e.ReferenceID, e.Description, now)
	pending := domain.AuditFrom(ctx)
	var events []*domain.AuditEvent
	if pending != nil {
		events = pending.Take()
	}
	if len(events) > 1 {
		return nil, false, fmt.Errorf("apply credit: %d audit events, want at most one", len(events))
	}
	if len(events) == 1 {
		row, err := auditValues(events[0], domain.ClientFrom(ctx), now)
		if err != nil {
			return nil, false, err
		}
		args = append(args, row...)
	}
	query := sqlApplyCredit(e.Type == domain.CreditUsed, len(events) == 1)
	var row struct {
		ID      int64 `db:"id"`
		Seq     int64 `db:"seq"`
		Balance int64 `db:"balance"`
		AuditID int64 `db:"audit_id"`
	}
	err := db.queryRow(ctx, query, args...).StructScan(&row)
	switch {
	case err == nil:
	case e.ReferenceID != nil && (isUniqueViolation(err) || errors.Is(err, sql.ErrNoRows)):
		// A repeat of a reference that was applied before (or concurrently,
		// committing first), or an insufficient balance that a repeat may
		// have spent: the original, if there is one, answers.
		orig, ferr := findReference(ctx, db.pool, e)
		if ferr == nil {
			skipAudit(ctx)
			return orig, true, replayError(orig, e)
		}
		if !errors.Is(ferr, sql.ErrNoRows) {
			return nil, false, mapError(fmt.Errorf("read original transaction: %w", ferr))
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, false, mapError(fmt.Errorf("apply credit: %w", err))
		}
		return nil, false, noBalanceChange(e)
	case errors.Is(err, sql.ErrNoRows) || (e.Type == domain.CreditUsed && IsCheckViolation(err)):
		return nil, false, noBalanceChange(e)
	case e.Type == domain.CreditAdded && isForeignKeyViolation(err):
		return nil, false, userNotFound(err)
	default:
		return nil, false, mapError(fmt.Errorf("apply credit: %w", err))
	}
	if len(events) == 1 {
		events[0].ID = row.AuditID
		pending.Annotate("transaction_id", row.ID)
		pending.MarkWritten()
	}
	return &domain.Transaction{ID: row.ID, Seq: row.Seq, UserID: e.UserID, Amount: e.Amount, Type: e.Type,
		ReferenceID: e.ReferenceID, Description: e.Description, CreatedAt: now,
		NewBalance: domain.Cents(row.Balance)}, false, nil
}

// noBalanceChange is the refusal of an entry whose balance change matched
// no row: a use beyond the available balance, an add past MaxBalance.
func noBalanceChange(e *domain.LedgerEntry) error {
	if e.Type == domain.CreditUsed {
		return domain.ErrInsufficientCredits
	}
	return domain.ErrBalanceLimit
}
