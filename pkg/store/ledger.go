package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// The ledger's one write path. Every change of a balance row (user_credits:
// balance, held) is a ledgerOp applied by applyLedger: a use, an add, a new
// hold, a capture, a void or an expiry, the user import's adds and a
// group-committed batch. A single request is a batch of one. This file
// holds the three things every change shares:
//
//   - the available-funds rule (sqlAvailableCovers and availableCovers, the
//     same rule for the database and for Go; TestAvailableFundsRuleAgrees
//     holds them together), and ledgerOp.takes, the amount an op takes from
//     the available part;
//   - the numbering of ledger rows: seq = the user's highest seq, read by
//     the database under the balance row's lock, + the row's place among the
//     user's rows of the write (sqlSeqBase, insertLedgerRows);
//   - the statements that change a balance row (balanceUpdate, sqlAddCredits).
//
// How an op is decided depends only on how many ops of its account need a
// decision: one op alone is decided by the database, in the conditional
// statement that changes the balance row (no read before the write, the
// cheap path: on PostgreSQL a use or an add is one statement); several
// (group commit) are decided in Go against the locked row, one after the
// other (credit_batch.go). Ops that take nothing (a capture: its hold
// reserved the money; a release) need no decision.

// sqlAvailableCovers is the available-funds rule in SQL, for a statement that
// changes the balance row it reads: its available part (balance - held)
// covers the amount, the one argument.
const sqlAvailableCovers = `balance - held >= ?`

// availableCovers is sqlAvailableCovers for a balance row read into Go.
func availableCovers(balance, held, amount int64) bool {
	return balance-held >= amount
}

// ledgerKind is what a ledgerOp does to a balance row.
type ledgerKind int

const (
	opUse     ledgerKind = iota + 1 // balance - amount; a credit_used row
	opAdd                           // balance + amount, capped at MaxBalance; a credit_added row
	opHold                          // held + amount; a pending hold row
	opCapture                       // balance - amount, held - the hold's amount; a credit_used row; the hold captured
	opRelease                       // held - the hold's amount; the hold voided or expired
)

// ledgerOp is one change of a balance row.
type ledgerOp struct {
	kind ledgerKind
	// entry is the ledger row asked for: a use's or an add's, or a capture's
	// (its amount the amount captured).
	entry *domain.LedgerEntry
	hold  *domain.NewHold // opHold
	// held is the pending hold a capture or release resolves, locked by the
	// caller (hold rows are locked before balance rows).
	held   *domain.Hold
	status domain.HoldStatus // opRelease: voided or expired
	ctx    context.Context   // a batched op's caller: its audit events; nil: none
}

// userID is the account the op changes.
func (op *ledgerOp) userID() int64 {
	switch {
	case op.hold != nil:
		return op.hold.UserID
	case op.held != nil:
		return op.held.UserID
	}
	return op.entry.UserID
}

// deltas is what the op adds to the balance row's balance and held.
func (op *ledgerOp) deltas() (balance, held int64) {
	switch op.kind {
	case opUse:
		return -int64(op.entry.Amount), 0
	case opAdd:
		return int64(op.entry.Amount), 0
	case opHold:
		return 0, int64(op.hold.Amount)
	case opCapture:
		return -int64(op.entry.Amount), -int64(op.held.Amount)
	default:
		return 0, -int64(op.held.Amount)
	}
}

// check refuses an op that the use cases' validation keeps out (a
// programming error, not a client's) and drops an empty reference.
func (op *ledgerOp) check() error {
	switch op.kind {
	case opUse, opAdd:
		e, want := op.entry, domain.CreditAdded
		if op.kind == opUse {
			want = domain.CreditUsed
		}
		if e.Amount <= 0 || e.Amount > domain.MaxAmount || e.Type != want {
			return fmt.Errorf("apply ledger: bad entry (%s %s)", e.Type, e.Amount)
		}
		if e.ReferenceID != nil && *e.ReferenceID == "" {
			e.ReferenceID = nil
		}
	case opHold:
		h := op.hold
		if h.Amount <= 0 || h.Amount > domain.MaxAmount || h.ExpiresIn <= 0 {
			return fmt.Errorf("apply ledger: bad hold (%s for %s)", h.Amount, h.ExpiresIn)
		}
		if h.ReferenceID != nil && *h.ReferenceID == "" {
			h.ReferenceID = nil
		}
	default:
		return fmt.Errorf("apply ledger: a request is a use, an add or a hold (op kind %d)", op.kind)
	}
	return nil
}

// takes is the amount the op takes from the available part (balance -
// held): what the available-funds rule must find covered before it is
// applied. Zero or less needs no check (an add is capped at MaxBalance
// instead; a capture takes at most what its hold reserved; a release gives
// back).
func (op *ledgerOp) takes() int64 {
	balance, held := op.deltas()
	return held - balance
}

// balanceUpdate is the statement that applies one op (or the sum of an
// account's releases) to an existing balance row, with its arguments: the
// row's balance and held after it, or no row when the available-funds rule
// refuses it. updated_at is the balance's: it moves when the balance does.
func balanceUpdate(userID, balance, held, takes int64, now time.Time) (string, []any) {
	var q strings.Builder
	var args []any
	q.WriteString(`UPDATE user_credits SET `)
	switch {
	case balance != 0 && held != 0:
		q.WriteString(`balance = balance + ?, held = held + ?, updated_at = ?`)
		args = append(args, balance, held, now)
	case balance != 0:
		q.WriteString(`balance = balance + ?, updated_at = ?`)
		args = append(args, balance, now)
	default:
		q.WriteString(`held = held + ?`)
		args = append(args, held)
	}
	q.WriteString(` WHERE user_id = ?`)
	args = append(args, userID)
	if takes > 0 {
		q.WriteString(` AND ` + sqlAvailableCovers)
		args = append(args, takes)
	}
	q.WriteString(` RETURNING balance, held`)
	return q.String(), args
}

// The statements of the single ops, named for preparing.
var (
	sqlUseCredits, _     = balanceUpdate(0, -1, 0, 1, time.Time{})
	sqlReserveHold, _    = balanceUpdate(0, 0, 1, 1, time.Time{})
	sqlCaptureBalance, _ = balanceUpdate(0, -1, -1, 0, time.Time{})
	sqlReleaseHeld, _    = balanceUpdate(0, 0, -1, 0, time.Time{})
)

// sqlAddCredits adds to n balance rows (creating those that do not exist),
// each capped at MaxBalance: a row the add would take past it is left alone
// and not returned. Arguments: per row user id, amount, updated_at; then
// MaxBalance.
func sqlAddCredits(n int) string {
	return `INSERT INTO user_credits (user_id, balance, updated_at) VALUES ` + repeatRows(`(?, ?, ?)`, n) + `
		ON CONFLICT (user_id) DO UPDATE SET balance = user_credits.balance + excluded.balance,
			updated_at = excluded.updated_at
		WHERE user_credits.balance + excluded.balance <= ? RETURNING user_id, balance, held`
}

// sqlAddCredit is sqlAddCredits of one row.
var sqlAddCredit = sqlAddCredits(1)

// repeatRows is n copies of row, comma-separated.
func repeatRows(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// sqlSeqBase is the numbering of ledger rows: the user's highest seq, the
// one argument. A ledger row's seq is sqlSeqBase + its place among the
// user's rows of the statement (1, 2, …). Every statement that inserts
// ledger rows evaluates it after the balance row's lock is held (the
// statement that changed the row came first in the transaction), so it
// sees every row of the user and no two writes number alike. PostgreSQL's
// one-statement use and add (credit_statement.go) insert without seq: their
// snapshot predates the lock, so migration 0005's trigger evaluates the
// same base + 1 when the row is inserted.
const sqlSeqBase = `(SELECT COALESCE(MAX(seq), 0) FROM credit_transactions WHERE user_id = ?)`

// sqlLedgerRow is one row of insertLedgerRows. Arguments: user id, amount,
// type, reference, description, balance_after, created_at, user id, place.
const sqlLedgerRow = `(?, ?, ?, ?, ?, ?, ?, ` + sqlSeqBase + ` + ?)`

// sqlInsertLedgerRows inserts n ledger rows.
func sqlInsertLedgerRows(n int) string {
	return `INSERT INTO credit_transactions
		(user_id, amount, transaction_type, reference_id, description, balance_after, created_at, seq)
		VALUES ` + repeatRows(sqlLedgerRow, n) + ` RETURNING id, user_id, seq`
}

// sqlInsertTransaction inserts one ledger row (prepared).
var sqlInsertTransaction = sqlInsertLedgerRows(1)

// ledgerRowArgs are the arguments of t's sqlLedgerRow, place its place among
// its user's rows of the statement.
func ledgerRowArgs(t *domain.Transaction, place int64) []any {
	return []any{t.UserID, int64(t.Amount), string(t.Type), t.ReferenceID, t.Description, int64(t.NewBalance),
		t.CreatedAt, t.UserID, place}
}

// insertLedgerRows writes ts (in the order of each user's history) in one
// statement and sets their ID and Seq.
func (db *DB) insertLedgerRows(ctx context.Context, tx *sqlx.Tx, ts []*domain.Transaction) error {
	if len(ts) == 1 {
		t := ts[0]
		var userID int64
		err := db.txQueryRow(ctx, tx, sqlInsertTransaction, ledgerRowArgs(t, 1)...).Scan(&t.ID, &userID, &t.Seq)
		if err != nil {
			return fmt.Errorf("insert transaction: %w", err)
		}
		return nil
	}
	places := map[int64]int64{}
	args := make([]any, 0, 9*len(ts))
	for _, t := range ts {
		places[t.UserID]++
		args = append(args, ledgerRowArgs(t, places[t.UserID])...)
	}
	type inserted struct{ id, userID, seq int64 }
	var got []inserted
	rows, err := tx.QueryContext(ctx, tx.Rebind(sqlInsertLedgerRows(len(ts))), args...)
	if err != nil {
		return fmt.Errorf("insert transactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r inserted
		if err := rows.Scan(&r.id, &r.userID, &r.seq); err != nil {
			return fmt.Errorf("insert transactions: %w", err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert transactions: %w", err)
	}
	if len(got) != len(ts) {
		return fmt.Errorf("insert transactions: %d of %d rows returned", len(got), len(ts))
	}
	// A user's rows were numbered base + place: in seq order they are the
	// user's rows of ts in order.
	slices.SortFunc(got, func(a, b inserted) int { return cmp.Or(cmp.Compare(a.userID, b.userID), cmp.Compare(a.seq, b.seq)) })
	sorted := slices.Clone(ts)
	slices.SortStableFunc(sorted, func(a, b *domain.Transaction) int { return cmp.Compare(a.UserID, b.UserID) })
	for i, t := range sorted {
		// A user's rows are numbered without a gap (base + 1, base + 2, …).
		if got[i].userID != t.UserID || (i > 0 && got[i-1].userID == t.UserID && got[i].seq != got[i-1].seq+1) {
			return fmt.Errorf("insert transactions: row %d (user %d, seq %d) out of its user's numbering",
				got[i].id, got[i].userID, got[i].seq)
		}
		t.ID, t.Seq = got[i].id, got[i].seq
	}
	return nil
}

// refusal is an op's refusal that rolls its own transaction back (a single
// op: nothing of it, its audit event included, is written).
type refusal struct{ outcome domain.CreditOutcome }

func (r *refusal) Error() string { return r.outcome.Err.Error() }

func (r *refusal) Unwrap() error { return r.outcome.Err }

// applyLedgerTx applies the ops of a request (uses, adds and holds, checked
// by ledgerOp.check) in a transaction of their own and returns each op's
// outcome. On PostgreSQL a use or an add alone is one statement outside
// any explicit transaction (credit_statement.go). A single op that is
// refused, or a repeat of a reference that conflicts, writes nothing.
func (db *DB) applyLedgerTx(ctx context.Context, ops []ledgerOp) ([]domain.CreditOutcome, error) {
	for i := range ops {
		if err := ops[i].check(); err != nil {
			return nil, err
		}
	}
	single := alone(ops)
	if single && db.Dialect == Postgres && (ops[0].kind == opUse || ops[0].kind == opAdd) {
		return db.applyInOneStatement(ctx, ops[0].entry)
	}
	// Prepare the statements before the transaction takes its connection.
	if single {
		for _, q := range preparedFor(ops[0].kind) {
			if _, err := db.prepared(ctx, q); err != nil {
				return nil, err
			}
		}
	} else if _, err := db.prepared(ctx, sqlInsertHold); err != nil {
		return nil, err
	}
	var (
		out    []domain.CreditOutcome
		audits []batchAudit
	)
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, audits, err = db.applyLedger(ctx, tx, ops)
		if err == nil && single && out[0].Err != nil {
			return &refusal{out[0]}
		}
		return err
	})
	if r, ok := errors.AsType[*refusal](err); ok {
		return []domain.CreditOutcome{r.outcome}, nil
	}
	if err != nil && single && isUniqueViolation(err) {
		// A concurrent request with the same reference committed first. Our
		// transaction is rolled back (on PostgreSQL it is aborted anyway), so
		// read the winner's row in a new query.
		if o, ok := db.concurrentRepeat(ctx, &ops[0]); ok {
			return []domain.CreditOutcome{o}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	for _, a := range audits {
		a.pending.MarkWritten()
	}
	return out, nil
}

// preparedFor is the statements a single op of kind runs in its transaction.
func preparedFor(kind ledgerKind) []string {
	switch kind {
	case opUse:
		return []string{sqlUseCredits, sqlInsertTransaction}
	case opAdd:
		return []string{sqlAddCredit, sqlInsertTransaction}
	case opHold:
		return []string{sqlReserveHold, sqlInsertHold}
	}
	return nil
}

// concurrentRepeat is the outcome of a single op whose reference another
// transaction took while it ran (its unique index refused the op's row).
func (db *DB) concurrentRepeat(ctx context.Context, op *ledgerOp) (domain.CreditOutcome, bool) {
	switch {
	case op.kind == opHold && op.hold.ReferenceID != nil:
		orig, err := findHoldReference(ctx, db.pool, op.hold)
		if err != nil {
			return domain.CreditOutcome{Err: mapError(fmt.Errorf("read original hold: %w", err))}, true
		}
		return domain.CreditOutcome{Hold: orig, Replayed: true, Err: holdReplayError(orig, op.hold)}, true
	case (op.kind == opUse || op.kind == opAdd) && op.entry.ReferenceID != nil:
		orig, err := findReference(ctx, db.pool, op.entry)
		if err != nil {
			return domain.CreditOutcome{Err: mapError(fmt.Errorf("read original transaction: %w", err))}, true
		}
		return domain.CreditOutcome{Transaction: orig, Replayed: true, Err: replayError(orig, op.entry)}, true
	}
	return domain.CreditOutcome{}, false
}

// applyLedger is the one write path: it applies ops inside tx and returns
// each op's outcome (a refusal is an outcome, not an error) and the audit
// events it wrote with them, to be marked written after the commit. The
// ops are one op alone, the use and hold ops of one account (a
// group-committed batch), or ops that need no decision on several
// accounts (the import's adds, the expiry sweep's releases).
func (db *DB) applyLedger(ctx context.Context, tx *sqlx.Tx, ops []ledgerOp) ([]domain.CreditOutcome, []batchAudit, error) {
	switch {
	case len(ops) == 0:
		return nil, nil, nil
	case alone(ops):
		o, err := db.applyOne(ctx, tx, &ops[0])
		return []domain.CreditOutcome{o}, nil, err
	case allOf(ops, opAdd):
		out, err := db.addAll(ctx, tx, ops)
		return out, nil, err
	case allOf(ops, opRelease):
		return make([]domain.CreditOutcome, len(ops)), nil, db.releaseAll(ctx, tx, ops)
	}
	for _, op := range ops {
		if (op.kind != opUse && op.kind != opHold) || op.userID() != ops[0].userID() {
			return nil, nil, fmt.Errorf("apply ledger: ops of a batch must be uses and holds of one account")
		}
	}
	return db.applyBatchInTx(ctx, tx, ops[0].userID(), ops)
}

// alone reports that ops is one op of a caller of its own (not batched by
// group commit, whose ops carry their callers' contexts): the database
// decides it.
func alone(ops []ledgerOp) bool {
	return len(ops) == 1 && ops[0].ctx == nil
}

// allOf reports that every op is of kind.
func allOf(ops []ledgerOp, kind ledgerKind) bool {
	for _, op := range ops {
		if op.kind != kind {
			return false
		}
	}
	return true
}

// applyOne applies one op, decided by the database: a repeat of its
// reference answers with the original; else the conditional balance
// statement, then the op's own row.
func (db *DB) applyOne(ctx context.Context, tx *sqlx.Tx, op *ledgerOp) (domain.CreditOutcome, error) {
	if o, ok, err := db.repeatOf(ctx, tx, op); ok || err != nil {
		return o, err
	}
	now := db.Now()
	balance, err := db.changeBalance(ctx, tx, op, now)
	if err != nil {
		if domain.ErrorReason(err) == "insufficient_credits" {
			// On PostgreSQL a concurrent repeat may have taken the money and
			// committed while we waited on the row lock: a new statement sees it.
			if o, ok, ferr := db.repeatOf(ctx, tx, op); ok && ferr == nil {
				return o, nil
			}
		}
		if errors.Is(err, domain.ErrInsufficientCredits) || errors.Is(err, domain.ErrBalanceLimit) {
			return domain.CreditOutcome{Err: err}, nil
		}
		return domain.CreditOutcome{}, err
	}
	switch op.kind {
	case opHold:
		return db.insertHold(ctx, tx, op.hold, now)
	case opRelease:
		h, err := db.resolve(ctx, tx, op.held, op.status, nil, nil, now)
		return domain.CreditOutcome{Hold: h}, err
	}
	e := op.entry
	t := &domain.Transaction{UserID: e.UserID, Amount: e.Amount, Type: e.Type, ReferenceID: e.ReferenceID,
		Description: e.Description, CreatedAt: now, NewBalance: domain.Cents(balance)}
	if err := db.insertLedgerRows(ctx, tx, []*domain.Transaction{t}); err != nil {
		return domain.CreditOutcome{}, err
	}
	if op.kind != opCapture {
		annotateAudit(ctx, "transaction_id", t.ID)
		return domain.CreditOutcome{Transaction: t}, nil
	}
	captured := e.Amount
	h, err := db.resolve(ctx, tx, op.held, domain.HoldCaptured, &captured, &t.ID, now)
	return domain.CreditOutcome{Transaction: t, Hold: h}, err
}

// repeatOf answers an op whose reference was taken before: a use's, an
// add's or a hold's original (ok), or a capture's reference taken by a use
// or another capture (ok, a conflict).
func (db *DB) repeatOf(ctx context.Context, tx *sqlx.Tx, op *ledgerOp) (domain.CreditOutcome, bool, error) {
	switch {
	case op.kind == opHold && op.hold.ReferenceID != nil:
		orig, err := findHoldReference(ctx, tx, op.hold)
		if err == nil {
			return domain.CreditOutcome{Hold: orig, Replayed: true, Err: holdReplayError(orig, op.hold)}, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return domain.CreditOutcome{}, false, fmt.Errorf("find hold reference: %w", err)
		}
	case op.kind != opHold && op.kind != opRelease && op.entry.ReferenceID != nil:
		orig, err := findReference(ctx, tx, op.entry)
		if err == nil {
			if op.kind == opCapture {
				return domain.CreditOutcome{Err: domain.ErrIdempotencyConflict}, true, nil
			}
			skipAudit(ctx)
			return domain.CreditOutcome{Transaction: orig, Replayed: true, Err: replayError(orig, op.entry)}, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return domain.CreditOutcome{}, false, fmt.Errorf("find reference: %w", err)
		}
	}
	return domain.CreditOutcome{}, false, nil
}

// changeBalance applies op to its balance row and returns the new balance:
// the conditional update (the available-funds rule decides) or, for an add,
// the capped upsert.
func (db *DB) changeBalance(ctx context.Context, tx *sqlx.Tx, op *ledgerOp, now time.Time) (int64, error) {
	var row struct {
		UserID  int64 `db:"user_id"`
		Balance int64 `db:"balance"`
		Held    int64 `db:"held"`
	}
	var err error
	if op.kind == opAdd {
		err = db.txQueryRow(ctx, tx, sqlAddCredit, op.entry.UserID, int64(op.entry.Amount), now,
			int64(domain.MaxBalance)).StructScan(&row)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return 0, domain.ErrBalanceLimit
		case isForeignKeyViolation(err):
			return 0, userNotFound(err)
		}
	} else {
		balance, held := op.deltas()
		q, args := balanceUpdate(op.userID(), balance, held, op.takes(), now)
		err = db.txQueryRow(ctx, tx, q, args...).Scan(&row.Balance, &row.Held)
		if op.takes() > 0 && (errors.Is(err, sql.ErrNoRows) || IsCheckViolation(err)) {
			return 0, domain.ErrInsufficientCredits
		}
	}
	if err != nil {
		return 0, fmt.Errorf("change balance: %w", err)
	}
	return row.Balance, nil
}

// addAll applies adds to several accounts (one each, references already
// checked by the caller: the import): one capped upsert of their balance
// rows, one insert of their ledger rows. An add the cap refuses is
// ErrBalanceLimit in its outcome and fails the whole write with
// ErrBalanceLimit: the others' balance rows were changed, so the caller
// must roll the transaction back.
func (db *DB) addAll(ctx context.Context, tx *sqlx.Tx, ops []ledgerOp) ([]domain.CreditOutcome, error) {
	now := db.Now()
	args := make([]any, 0, 3*len(ops)+1)
	for _, op := range ops {
		args = append(args, op.entry.UserID, int64(op.entry.Amount), now)
	}
	args = append(args, int64(domain.MaxBalance))
	var rows []struct {
		UserID  int64 `db:"user_id"`
		Balance int64 `db:"balance"`
		Held    int64 `db:"held"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(sqlAddCredits(len(ops))), args...); err != nil {
		return nil, fmt.Errorf("add balances: %w", err)
	}
	balances := map[int64]int64{}
	for _, r := range rows {
		balances[r.UserID] = r.Balance
	}
	out := make([]domain.CreditOutcome, len(ops))
	ts := make([]*domain.Transaction, 0, len(ops))
	for i, op := range ops {
		e := op.entry
		balance, ok := balances[e.UserID]
		if !ok {
			out[i].Err = domain.ErrBalanceLimit
			continue
		}
		t := &domain.Transaction{UserID: e.UserID, Amount: e.Amount, Type: e.Type, ReferenceID: e.ReferenceID,
			Description: e.Description, CreatedAt: now, NewBalance: domain.Cents(balance)}
		out[i].Transaction = t
		ts = append(ts, t)
	}
	if len(ts) < len(ops) {
		return out, domain.ErrBalanceLimit
	}
	return out, db.insertLedgerRows(ctx, tx, ts)
}

// releaseAll releases holds of several accounts (the expiry sweep), all
// with one status: each account's balance row once, in ascending user id
// (the lock order), then one update resolving every hold.
func (db *DB) releaseAll(ctx context.Context, tx *sqlx.Tx, ops []ledgerOp) error {
	now := db.Now()
	perUser := map[int64]int64{}
	ids := make([]int64, 0, len(ops))
	for _, op := range ops {
		if op.status != ops[0].status {
			return fmt.Errorf("release holds: one status per write (%s, %s)", ops[0].status, op.status)
		}
		_, held := op.deltas()
		perUser[op.held.UserID] += held
		ids = append(ids, op.held.ID)
	}
	users := make([]int64, 0, len(perUser))
	for u := range perUser {
		users = append(users, u)
	}
	slices.Sort(users)
	for _, u := range users {
		q, args := balanceUpdate(u, 0, perUser[u], 0, now)
		var balance, held int64
		if err := tx.QueryRowxContext(ctx, tx.Rebind(q), args...).Scan(&balance, &held); err != nil {
			return fmt.Errorf("release holds of user %d: %w", u, err)
		}
	}
	q, args, err := sqlx.In(`UPDATE credit_holds SET status = ?, resolved_at = ?
		WHERE id IN (?) AND status = 'pending'`, string(ops[0].status), now, ids)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
	if err != nil {
		return fmt.Errorf("resolve holds: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != int64(len(ids)) {
		return fmt.Errorf("resolve holds: %d of %d resolved (%v)", n, len(ids), err)
	}
	return nil
}
