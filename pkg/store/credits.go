package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// transactionColumns is the column list every ledger query selects.
const transactionColumns = `id, user_id, amount, transaction_type, reference_id, description, created_at, balance_after, seq`

// sqlFindReference reads the user's ledger row of a type with a reference.
const sqlFindReference = `SELECT ` + transactionColumns + ` FROM credit_transactions
		WHERE user_id = ? AND transaction_type = ? AND reference_id = ?`

// CreditBalance returns the user's balance; a user who never had credits has
// 0, dated at the user's creation. ENOTFOUND for an unknown user.
func (db *DB) CreditBalance(ctx context.Context, userID int64) (_ *domain.Balance, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var row struct {
		CreatedAt time.Time     `db:"created_at"`
		Balance   sql.NullInt64 `db:"balance"`
		Held      sql.NullInt64 `db:"held"`
		UpdatedAt sql.NullTime  `db:"updated_at"`
	}
	err = db.pool.GetContext(ctx, &row, db.pool.Rebind(`SELECT u.created_at, c.balance, c.held, c.updated_at
		FROM users u LEFT JOIN user_credits c ON c.user_id = u.id WHERE u.id = ?`), userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, userNotFound(err)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("get balance: %w", err))
	}
	b := &domain.Balance{UserID: userID, Balance: domain.Cents(row.Balance.Int64), UpdatedAt: row.CreatedAt.UTC(),
		Held: domain.Cents(row.Held.Int64)}
	b.Available = b.Balance - b.Held
	if row.UpdatedAt.Valid {
		b.UpdatedAt = row.UpdatedAt.Time.UTC()
	}
	return b, nil
}

// ApplyCredit changes the balance and writes the transaction row in one
// database transaction, through the ledger's one write path (applyLedger);
// see domain.CreditStore for the rules. Concurrent repeats of one
// reference: the loser of the unique index rolls back its balance change
// and returns the winner's row.
func (db *DB) ApplyCredit(ctx context.Context, e *domain.LedgerEntry) (_ *domain.Transaction, _ bool, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	kind := opAdd
	if e.Type == domain.CreditUsed {
		kind = opUse
	}
	out, err := db.applyLedgerTx(ctx, []ledgerOp{{kind: kind, entry: e}})
	if err != nil {
		return nil, false, err
	}
	return out[0].Transaction, out[0].Replayed, out[0].Err
}

// findReference returns the user's transaction of e's type with e's reference.
func findReference(ctx context.Context, q sqlx.QueryerContext, e *domain.LedgerEntry) (*domain.Transaction, error) {
	var t domain.Transaction
	err := sqlx.GetContext(ctx, q, &t, sqlx.Rebind(bindTypeOf(q), sqlFindReference), e.UserID, string(e.Type), *e.ReferenceID)
	if err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return &t, nil
}

// bindTypeOf returns the placeholder style of a sqlx queryer.
func bindTypeOf(q sqlx.QueryerContext) int {
	if b, ok := q.(interface{ DriverName() string }); ok {
		return sqlx.BindType(b.DriverName())
	}
	return sqlx.QUESTION
}

// replayError is nil when orig is a true repeat of e (same amount), else the
// idempotency conflict.
func replayError(orig *domain.Transaction, e *domain.LedgerEntry) error {
	if orig.Amount != e.Amount {
		return domain.ErrIdempotencyConflict
	}
	return nil
}

// History pages. The newest row of a user has the highest seq, which is also
// the user's count, so a page after skipping skip rows is the range
// seq <= count - skip, and a cursor page the range seq < cursor: either way a
// walk of the (user_id, seq) index from its start, however deep the page.
// total_count is read in the same statement, so that the page and the count
// agree.
const (
	sqlTotalCount  = `(SELECT MAX(seq) FROM credit_transactions WHERE user_id = ?)`
	sqlHistorySkip = `SELECT ` + transactionColumns + `, ` + sqlTotalCount + ` AS total_count
		FROM credit_transactions WHERE user_id = ? AND seq <= ` + sqlTotalCount + ` - ?
		ORDER BY seq DESC LIMIT ?`
	sqlHistoryCursor = `SELECT ` + transactionColumns + `, ` + sqlTotalCount + ` AS total_count
		FROM credit_transactions WHERE user_id = ? AND seq < ?
		ORDER BY seq DESC LIMIT ?`
	sqlHistoryCount = `SELECT COALESCE(` + sqlTotalCount + `, 0)`
)

// CreditHistory returns up to limit of the user's transactions, newest first,
// after skipping skip — or, when before > 0, those older than position before
// — with the user's total count and the cursor of the next page.
func (db *DB) CreditHistory(ctx context.Context, userID int64, skip, limit int, before int64) (_ *domain.TransactionPage, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var rows []struct {
		domain.Transaction
		TotalCount int64 `db:"total_count"`
	}
	if before > 0 {
		err = db.pool.SelectContext(ctx, &rows, db.pool.Rebind(sqlHistoryCursor), userID, userID, before, limit)
	} else {
		err = db.pool.SelectContext(ctx, &rows, db.pool.Rebind(sqlHistorySkip), userID, userID, userID, skip, limit)
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("list transactions: %w", err))
	}
	page := &domain.TransactionPage{Transactions: make([]*domain.Transaction, len(rows))}
	for i := range rows {
		t := rows[i].Transaction
		t.CreatedAt = t.CreatedAt.UTC()
		page.Transactions[i] = &t
		page.TotalCount = rows[i].TotalCount
	}
	if len(rows) == 0 {
		if err := db.pool.GetContext(ctx, &page.TotalCount, db.pool.Rebind(sqlHistoryCount), userID); err != nil {
			return nil, mapError(fmt.Errorf("count transactions: %w", err))
		}
	}
	if n := len(rows); n == limit && page.Transactions[n-1].Seq > 1 {
		next := domain.HistoryCursor(page.Transactions[n-1])
		page.NextCursor = &next
	}
	return page, nil
}

// isForeignKeyViolation reports a foreign-key constraint failure.
func isForeignKeyViolation(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "23503"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}
