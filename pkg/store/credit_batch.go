package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// The SQL of a group-committed batch of debits and holds (ApplyCreditBatch):
// the balance row is locked and read once, the batch is decided in Go
// against the running balance (availableCovers), and the result is written
// with one UPDATE, one multi-row INSERT of the ledger rows (numbered like
// every ledger row, insertLedgerRows) and the holds' rows.
const (
	sqlLockBalance  = `SELECT balance, held FROM user_credits WHERE user_id = ?`
	sqlSetBalance   = `UPDATE user_credits SET balance = ?, held = ?, updated_at = ? WHERE user_id = ?`
	sqlSetHeld      = `UPDATE user_credits SET held = ? WHERE user_id = ?`
	sqlFindHoldRefs = `SELECT ` + holdColumns + ` FROM credit_holds WHERE user_id = ? AND reference_id IN (?)`
	sqlFindRefsUsed = `SELECT ` + transactionColumns + ` FROM credit_transactions
		WHERE user_id = ? AND transaction_type = ? AND reference_id IN (?)`
)

var _ domain.CreditBatchStore = (*DB)(nil)

// ApplyCreditBatch applies debits and new holds of one account in one
// transaction through the ledger's one write path (applyLedger); see
// domain.CreditBatchStore. Like a single op it holds the balance row's lock
// from its first statement to the commit, so batches of several replicas,
// and single debits, holds and captures, still serialize on the row.
func (db *DB) ApplyCreditBatch(ctx context.Context, userID int64, ops []domain.BatchOp) ([]domain.CreditOutcome, error) {
	lops := make([]ledgerOp, len(ops))
	for i, op := range ops {
		switch e, h := op.Debit, op.Hold; {
		case e != nil && h == nil && e.UserID == userID:
			lops[i] = ledgerOp{kind: opUse, entry: e, ctx: op.Ctx}
		case h != nil && e == nil && h.UserID == userID:
			lops[i] = ledgerOp{kind: opHold, hold: h, ctx: op.Ctx}
		default:
			return nil, fmt.Errorf("apply credit batch: an op must be a debit or a hold of user %d", userID)
		}
	}
	return db.applyLedgerTx(ctx, lops)
}

// batchState is the running state of a batch: the locked balance row, the
// references already used, and what the batch has applied so far.
type batchState struct {
	hasRow         bool
	balance, held  int64
	usedRefs       map[string]*domain.Transaction // credit_used references: before the batch or in it
	holdRefs       map[holdRef]*domain.Hold       // hold references: before the batch or in it
	seq            int64                          // the last debit's place in the batch (its Seq until written)
	oneStatement   bool                           // debits only on PostgreSQL: writeDebits (credit_batch_pg.go)
	now            time.Time
	debits         []*domain.Transaction
	holds          []*domain.Hold
	balanceChanged bool
	audits         []batchAudit // of the applied ops, in order
}

// batchAudit is the pending audit events of one applied op of a batch.
type batchAudit struct {
	ctx     context.Context // the op's caller's values (its Client), never cancelled
	pending *domain.PendingAudit
	debit   *domain.Transaction // nil for a hold
}

func (db *DB) applyBatchInTx(ctx context.Context, tx *sqlx.Tx, userID int64, ops []ledgerOp) ([]domain.CreditOutcome, []batchAudit, error) {
	var row struct {
		Balance int64 `db:"balance"`
		Held    int64 `db:"held"`
	}
	err := tx.GetContext(ctx, &row, tx.Rebind(db.forUpdate(sqlLockBalance, "FOR UPDATE")), userID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("lock balance: %w", err)
	}
	st := &batchState{hasRow: err == nil, balance: row.Balance, held: row.Held, now: db.Now(),
		oneStatement: db.Dialect == Postgres && allOf(ops, opUse)}
	if st.usedRefs, st.holdRefs, err = batchReferences(ctx, tx, userID, ops); err != nil {
		return nil, nil, err
	}
	out := make([]domain.CreditOutcome, len(ops))
	for i, op := range ops {
		if op.kind == opUse {
			out[i] = st.debit(userID, op.entry)
		} else {
			out[i] = st.hold(userID, op.hold)
		}
		st.noteAudit(op, out[i])
	}
	if len(st.debits) == 0 && len(st.holds) == 0 {
		return out, nil, nil
	}
	if err := st.write(ctx, db, tx, userID); err != nil {
		return nil, nil, err
	}
	// Replays of an op of this batch see its ID now (they share the pointer).
	return out, st.audits, nil
}

// noteAudit remembers the audit events of an applied op, to write with the
// batch, and drops those of a repeat.
func (st *batchState) noteAudit(op ledgerOp, o domain.CreditOutcome) {
	if op.ctx == nil {
		return
	}
	p := domain.AuditFrom(op.ctx)
	switch {
	case p == nil || o.Err != nil:
	case o.Replayed:
		p.Skip()
	default:
		st.audits = append(st.audits, batchAudit{ctx: context.WithoutCancel(op.ctx), pending: p, debit: o.Transaction})
	}
}

// covers is the available-funds rule (availableCovers) on the running
// balance: no balance row covers nothing.
func (st *batchState) covers(amount domain.Cents) bool {
	return st.hasRow && availableCovers(st.balance, st.held, int64(amount))
}

// debit decides one debit against the running balance.
func (st *batchState) debit(userID int64, e *domain.LedgerEntry) domain.CreditOutcome {
	if e.ReferenceID != nil {
		if orig, ok := st.usedRefs[*e.ReferenceID]; ok {
			return domain.CreditOutcome{Transaction: orig, Replayed: true, Err: replayError(orig, e)}
		}
	}
	if !st.covers(e.Amount) {
		return domain.CreditOutcome{Err: domain.ErrInsufficientCredits}
	}
	st.balance -= int64(e.Amount)
	st.seq++
	st.balanceChanged = true
	t := &domain.Transaction{UserID: userID, Amount: e.Amount, Type: domain.CreditUsed, ReferenceID: e.ReferenceID,
		Description: e.Description, CreatedAt: st.now, NewBalance: domain.Cents(st.balance), Seq: st.seq}
	st.debits = append(st.debits, t)
	if e.ReferenceID != nil {
		st.usedRefs[*e.ReferenceID] = t
	}
	return domain.CreditOutcome{Transaction: t}
}

// hold decides one new hold against the running available balance.
func (st *batchState) hold(userID int64, h *domain.NewHold) domain.CreditOutcome {
	if h.ReferenceID != nil {
		if orig, ok := st.holdRefs[holdRef{h.PlacedByAdmin, *h.ReferenceID}]; ok {
			return domain.CreditOutcome{Hold: orig, Replayed: true, Err: holdReplayError(orig, h)}
		}
	}
	if !st.covers(h.Amount) {
		return domain.CreditOutcome{Err: domain.ErrInsufficientCredits}
	}
	st.held += int64(h.Amount)
	out := &domain.Hold{UserID: userID, Amount: h.Amount, Status: domain.HoldPending, PlacedByAdmin: h.PlacedByAdmin,
		ReferenceID: h.ReferenceID, Description: h.Description, CreatedAt: st.now,
		ExpiresAt: st.now.Add(h.ExpiresIn).Truncate(time.Microsecond)}
	st.holds = append(st.holds, out)
	if h.ReferenceID != nil {
		st.holdRefs[holdRef{h.PlacedByAdmin, *h.ReferenceID}] = out
	}
	return domain.CreditOutcome{Hold: out}
}

// write stores what the batch applied: the balance row once, the debits'
// rows in one INSERT, the holds' rows.
func (st *batchState) write(ctx context.Context, db *DB, tx *sqlx.Tx, userID int64) error {
	if st.oneStatement {
		return st.writeDebits(ctx, tx, userID)
	}
	if st.balanceChanged {
		if _, err := tx.ExecContext(ctx, tx.Rebind(sqlSetBalance), st.balance, st.held, st.now, userID); err != nil {
			return fmt.Errorf("set balance: %w", err)
		}
	} else if _, err := tx.ExecContext(ctx, tx.Rebind(sqlSetHeld), st.held, userID); err != nil {
		return fmt.Errorf("set held: %w", err)
	}
	if len(st.debits) > 0 {
		if err := db.insertLedgerRows(ctx, tx, st.debits); err != nil {
			return err
		}
	}
	for _, h := range st.holds {
		err := db.txQueryRow(ctx, tx, sqlInsertHold, userID, int64(h.Amount), h.ReferenceID, h.Description,
			h.CreatedAt, h.ExpiresAt, h.PlacedByAdmin).Scan(&h.ID)
		if err != nil {
			return fmt.Errorf("insert hold: %w", err)
		}
	}
	return insertBatchAudit(ctx, tx, st.audits, st.now)
}

// insertBatchAudit writes the audit events of a batch's applied ops in one
// multi-row INSERT (a statement per event would hold the balance row's lock
// for a round trip each), each stamped with its own caller's Client the way
// insertAudit stamps a single call's.
func insertBatchAudit(ctx context.Context, tx *sqlx.Tx, audits []batchAudit, now time.Time) error {
	var args []any
	rows := 0
	for _, a := range audits {
		if a.debit != nil {
			a.pending.Annotate("transaction_id", a.debit.ID)
		}
		client := domain.ClientFrom(a.ctx)
		for _, e := range a.pending.Take() {
			row, err := auditValues(e, client, now)
			if err != nil {
				return err
			}
			args = append(args, row...)
			rows++
		}
	}
	if rows == 0 {
		return nil
	}
	q := sqlInsertAudit + strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?, ?)`, rows-1) // one statement, every row
	if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
		return fmt.Errorf("insert audit events: %w", err)
	}
	return nil
}

// holdRef is a hold's idempotency key within its account: the holds an
// admin placed and the account owner's own are separate namespaces.
type holdRef struct {
	placedByAdmin bool
	reference     string
}

// batchReferences returns, by reference, the user's credit_used
// transactions and holds that carry any of the ops' references (one query
// each, only when the batch has such references).
func batchReferences(ctx context.Context, tx *sqlx.Tx, userID int64, ops []ledgerOp) (map[string]*domain.Transaction, map[holdRef]*domain.Hold, error) {
	var debitRefs, holdRefs []string
	for _, op := range ops {
		switch {
		case op.kind == opUse && op.entry.ReferenceID != nil:
			debitRefs = append(debitRefs, *op.entry.ReferenceID)
		case op.kind == opHold && op.hold.ReferenceID != nil:
			holdRefs = append(holdRefs, *op.hold.ReferenceID)
		}
	}
	used := map[string]*domain.Transaction{}
	if len(debitRefs) > 0 {
		q, args, err := sqlx.In(sqlFindRefsUsed, userID, string(domain.CreditUsed), debitRefs)
		if err != nil {
			return nil, nil, fmt.Errorf("find references: %w", err)
		}
		var found []*domain.Transaction
		if err := tx.SelectContext(ctx, &found, tx.Rebind(q), args...); err != nil {
			return nil, nil, fmt.Errorf("find references: %w", err)
		}
		for _, t := range found {
			t.CreatedAt = t.CreatedAt.UTC()
			used[*t.ReferenceID] = t
		}
	}
	holds := map[holdRef]*domain.Hold{}
	if len(holdRefs) > 0 {
		q, args, err := sqlx.In(sqlFindHoldRefs, userID, holdRefs)
		if err != nil {
			return nil, nil, fmt.Errorf("find hold references: %w", err)
		}
		var found []*domain.Hold
		if err := tx.SelectContext(ctx, &found, tx.Rebind(q), args...); err != nil {
			return nil, nil, fmt.Errorf("find hold references: %w", err)
		}
		for _, h := range found {
			holds[holdRef{h.PlacedByAdmin, *h.ReferenceID}] = utcHold(h)
		}
	}
	return used, holds, nil
}
