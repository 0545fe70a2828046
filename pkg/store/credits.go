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

// sqlAvailableCovers is the available-funds rule of every statement that
// takes from a balance row (a use, a new hold): its available part
// (balance - held) covers the amount, the one argument. ApplyCreditBatch
// decides its ops in Go with batchState.covers, the same rule.
const sqlAvailableCovers = `balance - held >= ?`

// transactionColumns is the column list every ledger query selects.
const transactionColumns = `id, user_id, amount, transaction_type, reference_id, description, created_at, balance_after, seq`

// The ledger's SQL. A use is one conditional update, never read-modify-write;
// an add is an upsert of the balance row capped at MaxBalance. Both lock the
// balance row until commit, so the transaction row written next can number
// itself in the user's history: seq = the user's highest seq + 1, one probe
// of the (user_id, seq) index.
const (
	sqlUseCredits = `UPDATE user_credits SET balance = balance - ?, updated_at = ?
		WHERE user_id = ? AND ` + sqlAvailableCovers + ` RETURNING balance`
	sqlAddCredits = `INSERT INTO user_credits (user_id, balance, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET balance = user_credits.balance + excluded.balance,
			updated_at = excluded.updated_at
		WHERE user_credits.balance <= ? RETURNING balance`
	sqlInsertTransaction = `INSERT INTO credit_transactions
		(user_id, amount, transaction_type, reference_id, description, balance_after, created_at, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ` + sqlNextSeq + `) RETURNING id, seq`
	sqlNextSeq       = `(SELECT COALESCE(MAX(seq), 0) + 1 FROM credit_transactions WHERE user_id = ?)`
	sqlFindReference = `SELECT ` + transactionColumns + ` FROM credit_transactions
		WHERE user_id = ? AND transaction_type = ? AND reference_id = ?`
)

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
// database transaction; see domain.CreditStore for the rules. Concurrent
// repeats of one reference: the loser of the unique index rolls back its
// balance change and returns the winner's row.
func (db *DB) ApplyCredit(ctx context.Context, e *domain.LedgerEntry) (_ *domain.Transaction, _ bool, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	if e.Amount <= 0 || e.Amount > domain.MaxAmount || (e.Type != domain.CreditAdded && e.Type != domain.CreditUsed) {
		return nil, false, fmt.Errorf("apply credit: bad entry (%s %s)", e.Type, e.Amount)
	}
	if e.ReferenceID != nil && *e.ReferenceID == "" {
		e.ReferenceID = nil
	}
	if db.Dialect == Postgres {
		return db.applyInOneStatement(ctx, e)
	}
	// Prepare the statements before the transaction takes its connection.
	for _, q := range []string{sqlUseCredits, sqlAddCredits, sqlInsertTransaction} {
		if _, err := db.prepared(ctx, q); err != nil {
			return nil, false, err
		}
	}
	var (
		out      *domain.Transaction
		replayed bool
	)
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, replayed, err = db.applyInTx(ctx, tx, e)
		return err
	})
	if err != nil && e.ReferenceID != nil && isUniqueViolation(err) {
		// A concurrent request with the same reference committed first. Our
		// transaction is rolled back (on PostgreSQL it is aborted anyway), so
		// read the winner's row in a new query.
		orig, ferr := findReference(ctx, db.pool, e)
		if ferr != nil {
			return nil, false, mapError(fmt.Errorf("read original transaction: %w", ferr))
		}
		return orig, true, replayError(orig, e)
	}
	if err != nil {
		return nil, false, err
	}
	return out, replayed, nil
}

// applyInTx is the body of ApplyCredit's transaction.
func (db *DB) applyInTx(ctx context.Context, tx *sqlx.Tx, e *domain.LedgerEntry) (*domain.Transaction, bool, error) {
	if e.ReferenceID != nil {
		orig, err := findReference(ctx, tx, e)
		if err == nil {
			skipAudit(ctx)
			return orig, true, replayError(orig, e)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("find reference: %w", err)
		}
	}
	now := db.Now()
	balance, err := db.changeBalance(ctx, tx, e, now)
	if err != nil {
		if e.ReferenceID != nil && domain.ErrorReason(err) == "insufficient_credits" {
			// On PostgreSQL a concurrent repeat may have spent the money and
			// committed while we waited on the row lock: a new statement sees it.
			if orig, ferr := findReference(ctx, tx, e); ferr == nil {
				skipAudit(ctx)
				return orig, true, replayError(orig, e)
			}
		}
		return nil, false, err
	}
	t := &domain.Transaction{UserID: e.UserID, Amount: e.Amount, Type: e.Type, ReferenceID: e.ReferenceID,
		Description: e.Description, CreatedAt: now, NewBalance: balance}
	err = db.txQueryRow(ctx, tx, sqlInsertTransaction, e.UserID, int64(e.Amount), string(e.Type),
		e.ReferenceID, e.Description, int64(balance), now, e.UserID).Scan(&t.ID, &t.Seq)
	if err != nil {
		return nil, false, fmt.Errorf("insert transaction: %w", err)
	}
	annotateAudit(ctx, "transaction_id", t.ID)
	return t, false, nil
}

// changeBalance applies e to the balance row and returns the new balance.
func (db *DB) changeBalance(ctx context.Context, tx *sqlx.Tx, e *domain.LedgerEntry, now time.Time) (domain.Cents, error) {
	var balance int64
	var err error
	if e.Type == domain.CreditUsed {
		err = db.txQueryRow(ctx, tx, sqlUseCredits, int64(e.Amount), now, e.UserID, int64(e.Amount)).Scan(&balance)
		if errors.Is(err, sql.ErrNoRows) || IsCheckViolation(err) {
			return 0, domain.ErrInsufficientCredits
		}
	} else {
		err = db.txQueryRow(ctx, tx, sqlAddCredits, e.UserID, int64(e.Amount), now,
			int64(domain.MaxBalance-e.Amount)).Scan(&balance)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return 0, domain.ErrBalanceLimit
		case isForeignKeyViolation(err):
			return 0, userNotFound(err)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("change balance: %w", err)
	}
	return domain.Cents(balance), nil
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
