package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/authsvc/authsvc/pkg/authsvc"
	"github.com/jmoiron/sqlx"
)

// The SQL of a group-committed batch of debits (ApplyCreditBatch): the
// balance row is locked once, the batch is decided in Go against the running
// balance, and the result is written with one UPDATE and one multi-row
// INSERT whose seq values continue the user's history.
const (
	sqlLockBalance  = `SELECT balance, held FROM user_credits WHERE user_id = ?`
	sqlMaxSeq       = `SELECT COALESCE(MAX(seq), 0) FROM credit_transactions WHERE user_id = ?`
	sqlSetBalance   = `UPDATE user_credits SET balance = ?, updated_at = ? WHERE user_id = ?`
	sqlFindRefsUsed = `SELECT ` + transactionColumns + ` FROM credit_transactions
		WHERE user_id = ? AND transaction_type = ? AND reference_id IN (?)`
	sqlInsertTransactionsHead = `INSERT INTO credit_transactions
		(user_id, amount, transaction_type, reference_id, description, balance_after, created_at, seq) VALUES `
	sqlInsertTransactionsRow = `(?, ?, ?, ?, ?, ?, ?, ?)`
)

var _ authsvc.CreditBatchStore = (*DB)(nil)

// ApplyCreditBatch applies debits of one account in one transaction; see
// authsvc.CreditBatchStore. Like ApplyCredit it holds the balance row's lock
// from the first statement to the commit, so batches of several replicas,
// and single debits, holds and captures, still serialize on the row.
func (db *DB) ApplyCreditBatch(ctx context.Context, userID int64, entries []*authsvc.LedgerEntry) ([]authsvc.CreditOutcome, error) {
	for _, e := range entries {
		if e.UserID != userID || e.Type != authsvc.CreditUsed || e.Amount <= 0 || e.Amount > authsvc.MaxAmount {
			return nil, fmt.Errorf("apply credit batch: bad entry (user %d, %s %s)", e.UserID, e.Type, e.Amount)
		}
		if e.ReferenceID != nil && *e.ReferenceID == "" {
			e.ReferenceID = nil
		}
	}
	var out []authsvc.CreditOutcome
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = db.applyBatchInTx(ctx, tx, userID, entries)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (db *DB) applyBatchInTx(ctx context.Context, tx *sqlx.Tx, userID int64, entries []*authsvc.LedgerEntry) ([]authsvc.CreditOutcome, error) {
	var row struct {
		Balance int64 `db:"balance"`
		Held    int64 `db:"held"`
	}
	err := tx.GetContext(ctx, &row, tx.Rebind(db.forUpdate(sqlLockBalance, "FOR UPDATE")), userID)
	hasRow := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("lock balance: %w", err)
	}
	known, err := usedReferences(ctx, tx, userID, entries)
	if err != nil {
		return nil, err
	}
	var seq int64
	if err := tx.GetContext(ctx, &seq, tx.Rebind(sqlMaxSeq), userID); err != nil {
		return nil, fmt.Errorf("max seq: %w", err)
	}

	now := db.Now()
	out := make([]authsvc.CreditOutcome, len(entries))
	batchRef := map[string]int{} // reference → index of the entry that applied it in this batch
	var applied []*authsvc.Transaction
	balance := row.Balance
	for i, e := range entries {
		if e.ReferenceID != nil {
			if orig, ok := known[*e.ReferenceID]; ok {
				out[i] = authsvc.CreditOutcome{Transaction: orig, Replayed: true, Err: replayError(orig, e)}
				continue
			}
			if j, ok := batchRef[*e.ReferenceID]; ok {
				orig := out[j].Transaction // its ID and Seq are filled in after the insert
				out[i] = authsvc.CreditOutcome{Transaction: orig, Replayed: true, Err: replayError(orig, e)}
				continue
			}
		}
		if !hasRow || balance-row.Held < int64(e.Amount) {
			out[i].Err = authsvc.ErrInsufficientCredits
			continue
		}
		balance -= int64(e.Amount)
		seq++
		t := &authsvc.Transaction{UserID: userID, Amount: e.Amount, Type: authsvc.CreditUsed, ReferenceID: e.ReferenceID,
			Description: e.Description, CreatedAt: now, NewBalance: authsvc.Cents(balance), Seq: seq}
		out[i].Transaction = t
		applied = append(applied, t)
		if e.ReferenceID != nil {
			batchRef[*e.ReferenceID] = i
		}
	}
	if len(applied) == 0 {
		return out, nil
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(sqlSetBalance), balance, now, userID); err != nil {
		return nil, fmt.Errorf("set balance: %w", err)
	}
	if err := insertTransactions(ctx, tx, applied); err != nil {
		return nil, err
	}
	// Replays of an entry of this batch see its ID now (they share the pointer).
	return out, nil
}

// usedReferences returns the user's credit_used transactions carrying any of
// the entries' references, by reference, in one query.
func usedReferences(ctx context.Context, tx *sqlx.Tx, userID int64, entries []*authsvc.LedgerEntry) (map[string]*authsvc.Transaction, error) {
	var refs []string
	for _, e := range entries {
		if e.ReferenceID != nil {
			refs = append(refs, *e.ReferenceID)
		}
	}
	known := map[string]*authsvc.Transaction{}
	if len(refs) == 0 {
		return known, nil
	}
	q, args, err := sqlx.In(sqlFindRefsUsed, userID, string(authsvc.CreditUsed), refs)
	if err != nil {
		return nil, fmt.Errorf("find references: %w", err)
	}
	var found []*authsvc.Transaction
	if err := tx.SelectContext(ctx, &found, tx.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("find references: %w", err)
	}
	for _, t := range found {
		t.CreatedAt = t.CreatedAt.UTC()
		known[*t.ReferenceID] = t
	}
	return known, nil
}

// insertTransactions writes ts in one multi-row INSERT and sets their IDs.
func insertTransactions(ctx context.Context, tx *sqlx.Tx, ts []*authsvc.Transaction) error {
	var b strings.Builder
	b.WriteString(sqlInsertTransactionsHead)
	args := make([]any, 0, 8*len(ts))
	bySeq := make(map[int64]*authsvc.Transaction, len(ts))
	for i, t := range ts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqlInsertTransactionsRow)
		args = append(args, t.UserID, int64(t.Amount), string(t.Type), t.ReferenceID, t.Description,
			int64(t.NewBalance), t.CreatedAt, t.Seq)
		bySeq[t.Seq] = t
	}
	b.WriteString(" RETURNING id, seq")
	rows, err := tx.QueryContext(ctx, tx.Rebind(b.String()), args...)
	if err != nil {
		return fmt.Errorf("insert transactions: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return fmt.Errorf("insert transactions: %w", err)
		}
		if t := bySeq[seq]; t != nil {
			t.ID = id
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert transactions: %w", err)
	}
	if n != len(ts) {
		return fmt.Errorf("insert transactions: %d of %d rows returned", n, len(ts))
	}
	return nil
}
