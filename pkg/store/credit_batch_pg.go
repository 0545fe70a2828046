package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// On PostgreSQL a batch of debits only (what group commit sends for a hot
// account) writes everything in one statement after the lock: the balance
// row, the ledger rows numbered after the user's highest seq, and the audit
// events with their rows' ids. The statement runs after the lock is held,
// so its snapshot sees every committed row of the user; the batch takes
// four round trips (BEGIN, lock, write, COMMIT) instead of seven.

// sqlDebitBatchHead numbers the rows as every ledger row is numbered
// (sqlSeqBase + the row's place k in the batch: 1, 2, …). Arguments: user id; then
// balance, held, updated_at, user id; then per row (transactionRows):
// user_id, amount, transaction_type, reference_id, description,
// balance_after, created_at, k.
const sqlDebitBatchHead = `WITH base AS (SELECT ` + sqlSeqBase + ` AS seq),
	balance AS (UPDATE user_credits SET balance = ?, held = ?, updated_at = ? WHERE user_id = ?),
	t AS (INSERT INTO credit_transactions
		(user_id, amount, transaction_type, reference_id, description, balance_after, created_at, seq)
		SELECT CAST(v.user_id AS bigint), CAST(v.amount AS bigint), v.transaction_type, v.reference_id, v.description,
			CAST(v.balance_after AS bigint), CAST(v.created_at AS timestamptz), base.seq + CAST(v.k AS bigint)
		FROM base, (VALUES `

const sqlDebitBatchRowsEnd = `) AS v (user_id, amount, transaction_type, reference_id, description, balance_after, created_at, k)
		RETURNING id, seq)`

// sqlDebitBatchAuditHead writes the audit events, each joined to its row.
const sqlDebitBatchAuditHead = `,
	a AS (INSERT INTO audit_events (` + auditInsertColumns + `)
		SELECT CAST(e.created_at AS timestamptz), e.event, CAST(e.actor_id AS bigint), CAST(e.target_id AS bigint),
			e.client_ip, e.user_agent, e.request_id,
			(CAST(e.details AS jsonb) || jsonb_build_object('transaction_id', t.id))::text
		FROM base CROSS JOIN (VALUES `

// sqlDebitBatchAuditRow is one audit event: auditValues, then the k of its
// ledger row.
const sqlDebitBatchAuditRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?)`

const sqlDebitBatchAuditEnd = `) AS e (created_at, event, actor_id, target_id, client_ip, user_agent, request_id, details, k)
		JOIN t ON t.seq = base.seq + CAST(e.k AS bigint))`

const sqlDebitBatchResult = `
	SELECT t.id, t.seq, t.seq - base.seq AS k FROM t, base`

// writeDebits is write for a batch of debits only on PostgreSQL; each
// debit's Seq is its place in the batch until then, and its place in the
// user's history after.
func (st *batchState) writeDebits(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	var q strings.Builder
	q.WriteString(sqlDebitBatchHead)
	rowArgs, byK := transactionRows(&q, st.debits) // the ledger rows, their Seq as k
	args := append([]any{userID, st.balance, st.held, st.now, userID}, rowArgs...)
	q.WriteString(sqlDebitBatchRowsEnd)
	rows := 0
	for _, a := range st.audits {
		client := domain.ClientFrom(a.ctx)
		for _, e := range a.pending.Take() {
			values, err := auditValues(e, client, st.now)
			if err != nil {
				return err
			}
			if rows == 0 {
				q.WriteString(sqlDebitBatchAuditHead)
			} else {
				q.WriteString(", ")
			}
			q.WriteString(sqlDebitBatchAuditRow)
			args = append(append(args, values...), a.debit.Seq)
			rows++
		}
	}
	if rows > 0 {
		q.WriteString(sqlDebitBatchAuditEnd)
	}
	q.WriteString(sqlDebitBatchResult)
	res, err := tx.QueryContext(ctx, tx.Rebind(q.String()), args...)
	if err != nil {
		return fmt.Errorf("write debits: %w", err)
	}
	defer res.Close()
	n := 0
	for res.Next() {
		var id, seq, k int64
		if err := res.Scan(&id, &seq, &k); err != nil {
			return fmt.Errorf("write debits: %w", err)
		}
		if t := byK[k]; t != nil {
			t.ID, t.Seq = id, seq
			n++
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("write debits: %w", err)
	}
	if n != len(st.debits) {
		return fmt.Errorf("write debits: %d of %d rows returned", n, len(st.debits))
	}
	for _, a := range st.audits { // the events' details as written
		a.pending.Annotate("transaction_id", a.debit.ID)
	}
	return nil
}

// sqlInsertTransactionsRow is one ledger row of sqlDebitBatchHead's VALUES.
const sqlInsertTransactionsRow = `(?, ?, ?, ?, ?, ?, ?, ?)`

// transactionRows writes a row of placeholders per transaction of ts to b
// (sqlInsertTransactionsRow, comma-separated) and returns their arguments
// and ts by Seq (their place in the batch).
func transactionRows(b *strings.Builder, ts []*domain.Transaction) ([]any, map[int64]*domain.Transaction) {
	args := make([]any, 0, 8*len(ts))
	bySeq := make(map[int64]*domain.Transaction, len(ts))
	for i, t := range ts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqlInsertTransactionsRow)
		args = append(args, t.UserID, int64(t.Amount), string(t.Type), t.ReferenceID, t.Description,
			int64(t.NewBalance), t.CreatedAt, t.Seq)
		bySeq[t.Seq] = t
	}
	return args, bySeq
}
