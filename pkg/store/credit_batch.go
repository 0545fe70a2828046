package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

var _ domain.CreditBatchStore = (*DB)(nil)

// errRefused rolls back a transaction whose op was refused (nothing was
// written, and its audit events must not be).
var errRefused = errors.New("ledger op refused")

// maxLedgerTries bounds the runs of a batch whose statement lost a race for
// a reference to a concurrent transaction (the next run sees the winner).
const maxLedgerTries = 3

// applyOne applies a single op (a batch of one) in its own transaction: on
// PostgreSQL one statement, which also writes the audit events attached to
// ctx; on SQLite a transaction that writes them at its commit.
func (db *DB) applyOne(ctx context.Context, op *ledgerOp) error {
	p := domain.AuditFrom(ctx)
	if db.Dialect == Postgres {
		op.audit, op.ctx = p, ctx
		var err error
		for try := 1; ; try++ {
			// A unique violation: a concurrent request took the reference,
			// or created the account's balance row, first; the next run
			// sees it.
			err = db.applyLedger(ctx, nil, []*ledgerOp{op})
			if err == nil || !isUniqueViolation(err) || try == maxLedgerTries {
				break
			}
		}
		if err != nil {
			return mapError(err)
		}
		if op.outcome == outcomeApplied && p != nil {
			p.MarkWritten()
		}
		return nil
	}
	if _, err := db.prepared(ctx, sqlInsertTransaction); err != nil {
		return err
	}
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := db.applyLedger(ctx, tx, []*ledgerOp{op}); err != nil {
			return err
		}
		if op.outcome != outcomeApplied {
			return errRefused
		}
		if op.txID != 0 {
			annotateAudit(ctx, "transaction_id", op.txID)
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		return nil
	}
	return err
}

// ApplyCreditBatch applies debits and new holds of one account; see
// domain.CreditBatchStore. It is applyLedger's batch: one statement on
// PostgreSQL (a second one, in the same transaction, only for a repeat of a
// reference within the batch), which locks the balance row once.
func (db *DB) ApplyCreditBatch(ctx context.Context, userID int64, ops []domain.BatchOp) ([]domain.CreditOutcome, error) {
	lops := make([]*ledgerOp, len(ops))
	for i, op := range ops {
		var err error
		if lops[i], err = batchOp(userID, op); err != nil {
			return nil, err
		}
	}
	var err error
	for try := 1; ; try++ {
		err = db.applyBatch(ctx, lops)
		if err == nil || !isUniqueViolation(err) || try == maxLedgerTries {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return db.batchOutcomes(ctx, lops, ops)
}

// batchOutcomes answers each op of a batch. A repeat of a reference applied
// earlier in the batch shares that op's Transaction or Hold.
func (db *DB) batchOutcomes(ctx context.Context, lops []*ledgerOp, ops []domain.BatchOp) ([]domain.CreditOutcome, error) {
	type refKey struct {
		hold, admin bool
		ref         string
	}
	keyOf := func(op *ledgerOp) refKey { return refKey{op.Kind == opHold, op.Admin, *op.Ref} }
	inBatch := map[refKey]domain.CreditOutcome{}
	appliedIDs := map[refKey]bool{}
	for _, op := range lops {
		if op.outcome == outcomeApplied && op.Ref != nil {
			appliedIDs[keyOf(op)] = true
		}
	}
	out := make([]domain.CreditOutcome, len(ops))
	for i, op := range lops {
		switch {
		case op.outcome == outcomeApplied:
			if op.Kind == opHold {
				out[i] = domain.CreditOutcome{Hold: op.newHold()}
			} else {
				out[i] = domain.CreditOutcome{Transaction: op.transaction()}
			}
			if op.Ref != nil {
				inBatch[keyOf(op)] = out[i]
			}
			continue
		case op.Ref == nil:
			out[i] = domain.CreditOutcome{Err: domain.ErrInsufficientCredits}
			continue
		}
		if orig, ok := inBatch[keyOf(op)]; ok && op.outcome == outcomeReplay {
			out[i] = domain.CreditOutcome{Transaction: orig.Transaction, Hold: orig.Hold, Replayed: true}
			if op.Kind == opHold {
				out[i].Err = holdReplayError(orig.Hold, ops[i].Hold)
			} else {
				out[i].Err = replayError(orig.Transaction, ops[i].Debit)
			}
			skipOpAudit(op)
			continue
		}
		if op.outcome == outcomeInsufficient && appliedIDs[keyOf(op)] {
			// The reference is taken later in this batch, not before it.
			out[i] = domain.CreditOutcome{Err: domain.ErrInsufficientCredits}
			continue
		}
		var err error
		if out[i], err = db.batchOutcome(ctx, op, ops[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// skipOpAudit drops the audit events of an op that changed nothing.
func skipOpAudit(op *ledgerOp) {
	if op.audit != nil {
		op.audit.Skip()
	}
}

// batchOp is the ledgerOp of a debit or a new hold of a batch.
func batchOp(userID int64, op domain.BatchOp) (*ledgerOp, error) {
	var out *ledgerOp
	switch e, h := op.Debit, op.Hold; {
	case e != nil && h == nil:
		if e.UserID != userID || e.Type != domain.CreditUsed || e.Amount <= 0 || e.Amount > domain.MaxAmount {
			return nil, fmt.Errorf("apply credit batch: bad debit (user %d, %s %s)", e.UserID, e.Type, e.Amount)
		}
		if e.ReferenceID != nil && *e.ReferenceID == "" {
			e.ReferenceID = nil
		}
		out = &ledgerOp{UserID: userID, Kind: opUse, Amount: int64(e.Amount), Ref: e.ReferenceID, Desc: e.Description}
	case h != nil && e == nil:
		if h.UserID != userID || h.Amount <= 0 || h.Amount > domain.MaxAmount || h.ExpiresIn <= 0 {
			return nil, fmt.Errorf("apply credit batch: bad hold (user %d, %s for %s)", h.UserID, h.Amount, h.ExpiresIn)
		}
		if h.ReferenceID != nil && *h.ReferenceID == "" {
			h.ReferenceID = nil
		}
		out = &ledgerOp{UserID: userID, Kind: opHold, Amount: int64(h.Amount), Ref: h.ReferenceID, Desc: h.Description,
			Admin: h.PlacedByAdmin, expiresIn: h.ExpiresIn}
	default:
		return nil, fmt.Errorf("apply credit batch: an op must be a debit or a hold")
	}
	if op.Ctx != nil {
		out.audit, out.ctx = domain.AuditFrom(op.Ctx), context.WithoutCancel(op.Ctx)
	}
	return out, nil
}

// applyBatch applies ops in one transaction and marks the audit events of
// the applied ones written.
func (db *DB) applyBatch(ctx context.Context, ops []*ledgerOp) error {
	rounds := ledgerRounds(ops)
	var err error
	if db.Dialect == Postgres && len(rounds) == 1 {
		err = mapError(db.applyLedger(ctx, nil, ops))
	} else {
		queries := []string{sqlInsertTransaction, sqlInsertHold}
		if db.Dialect == Postgres {
			queries = []string{sqlLedgerPostgres}
		}
		for _, q := range queries {
			if _, err := db.prepared(ctx, q); err != nil {
				return err
			}
		}
		err = db.InTx(ctx, func(tx *sqlx.Tx) error {
			for _, r := range rounds {
				if err := db.applyLedger(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	for _, op := range ops {
		if op.outcome == outcomeApplied && op.audit != nil {
			op.audit.MarkWritten()
		}
	}
	return nil
}

// batchOutcome is the answer to an op of a batch that was refused or
// repeats a reference used before the batch.
func (db *DB) batchOutcome(ctx context.Context, op *ledgerOp, bop domain.BatchOp) (domain.CreditOutcome, error) {
	switch op.outcome {
	case outcomeReplay, outcomeInsufficient:
		// A repeat, or a refusal that a concurrent repeat may explain (it
		// spent the money and committed while the batch waited for the
		// lock): the original, if there is one, answers.
		o, found, err := db.original(ctx, op, bop)
		if err != nil {
			return o, err
		}
		if found {
			skipOpAudit(op)
			return o, nil
		}
		if op.outcome == outcomeReplay {
			return o, fmt.Errorf("apply credit batch: the original of reference %q is gone", *op.Ref)
		}
		return domain.CreditOutcome{Err: domain.ErrInsufficientCredits}, nil
	}
	return domain.CreditOutcome{}, fmt.Errorf("apply credit batch: outcome %q", op.outcome)
}

// original reads the debit or hold that took op's reference before.
func (db *DB) original(ctx context.Context, op *ledgerOp, bop domain.BatchOp) (domain.CreditOutcome, bool, error) {
	if op.Kind == opHold {
		orig, err := findHoldReference(ctx, db.pool, bop.Hold)
		if err != nil {
			return domain.CreditOutcome{}, false, ignoreNoRows(err, "read original hold")
		}
		return domain.CreditOutcome{Hold: orig, Replayed: true, Err: holdReplayError(orig, bop.Hold)}, true, nil
	}
	orig, err := findReference(ctx, db.pool, bop.Debit)
	if err != nil {
		return domain.CreditOutcome{}, false, ignoreNoRows(err, "read original transaction")
	}
	return domain.CreditOutcome{Transaction: orig, Replayed: true, Err: replayError(orig, bop.Debit)}, true, nil
}
