package domain

import "context"

// CreditRequest is one add or use as the client sent it. Amount is the raw
// JSON text of the "amount" value ("" when the field was missing), so that it
// is parsed exactly (ParseAmount) and every bad field is reported at once.
type CreditRequest struct {
	Amount      string
	ReferenceID *string // idempotency key; nil or "" means none
	Description *string
	// Username names the account to credit (add only, admins only); "" means
	// the caller's own account.
	Username string
	// Code is the caller's current TOTP code or a recovery code: asked of an
	// admin who adds credits while having two-factor authentication on.
	Code string
}

// CreditService is the ledger use cases shared by the HTTP API and the CLI.
// Every method returns EUNAVAILABLE when the database cannot be reached.
type CreditService interface {
	// Balance returns the user's balance: 0, dated at the user's creation,
	// when nothing was ever added. ENOTFOUND for an unknown user.
	Balance(ctx context.Context, userID int64) (*Balance, error)
	// Add credits the actor's account, or the account named by req.Username.
	// EVALIDATION for bad fields; EFORBIDDEN ("forbidden") unless the actor is
	// an admin or self-add is enabled (a non-admin may never name another
	// user); ENOTFOUND for an unknown username; ECONFLICT
	// ("idempotency_conflict") when req.ReferenceID was used with another
	// amount. A repeat with the same reference and amount returns the
	// original transaction and changes nothing.
	Add(ctx context.Context, actor *User, req CreditRequest) (*Transaction, error)
	// Use debits the user's account. EINVALID ("insufficient_credits") when
	// the balance is too small; otherwise as Add.
	Use(ctx context.Context, userID int64, req CreditRequest) (*Transaction, error)
	// History returns a page of the user's transactions newest first.
	// EVALIDATION for a query that HistoryQuery.Validate refuses.
	History(ctx context.Context, userID int64, q HistoryQuery) (*TransactionPage, error)
	// Grant credits the named user's account (the admin CLI). amount is the
	// decimal text; reference and description are optional ("" for none).
	// EVALIDATION for a bad amount, ENOTFOUND for an unknown user, ECONFLICT
	// for a reference used with another amount.
	Grant(ctx context.Context, username, amount, reference, description string) (*Transaction, error)
	// BalanceByUsername is Balance for a username (the admin CLI). ENOTFOUND
	// for an unknown user.
	BalanceByUsername(ctx context.Context, username string) (*Balance, error)
}

// LedgerEntry is one validated balance change, ready to be stored.
type LedgerEntry struct {
	UserID      int64
	Type        TransactionType
	Amount      Cents // > 0
	ReferenceID *string
	Description *string
}

// CreditStore persists balances and their transactions.
type CreditStore interface {
	// CreditBalance returns the user's balance (0 at the user's created_at
	// when there is no balance row). ENOTFOUND for an unknown user.
	CreditBalance(ctx context.Context, userID int64) (*Balance, error)
	// ApplyCredit changes the balance and writes the transaction row in one
	// database transaction. A use never takes the balance below 0: EINVALID
	// ("insufficient_credits"). An entry whose ReferenceID the user already
	// used for the same Type returns that original transaction with
	// replayed = true and changes nothing, also under concurrency; with a
	// different amount it is ECONFLICT ("idempotency_conflict"). An add that
	// would push the balance past MaxBalance is EINVALID ("balance_limit").
	// ENOTFOUND when the user does not exist.
	ApplyCredit(ctx context.Context, e *LedgerEntry) (tx *Transaction, replayed bool, err error)
	// CreditHistory returns up to limit of the user's transactions, newest
	// first, after skipping skip — or, when before > 0, the newest limit of
	// those older than position before (a cursor) — with the user's total
	// count and the cursor of the next page.
	CreditHistory(ctx context.Context, userID int64, skip, limit int, before int64) (*TransactionPage, error)
	// UserByUsername matches case-insensitively; ENOTFOUND when none.
	UserByUsername(ctx context.Context, username string) (*User, error)
}

// CreditMetrics is told about ledger outcomes; the ops work backs it with
// Prometheus counters. Implementations must be safe for concurrent use.
type CreditMetrics interface {
	// Added is called once per new (not replayed) add.
	Added(amount Cents)
	// Used is called once per new (not replayed) use.
	Used(amount Cents)
	// Refused is called once per refused add or use, with the error's reason
	// (e.g. "insufficient_credits", "idempotency_conflict", "forbidden",
	// "validation_error").
	Refused(reason string)
}

// BatchOp is one request of a group commit (see CreditBatchStore): a debit
// (Debit, of type credit_used) or a new hold (Hold); exactly one is set.
type BatchOp struct {
	Debit *LedgerEntry
	Hold  *NewHold
	// Ctx is the caller's context, for its values only: the audit events
	// attached to it (WithAudit) are written with the op in the batch's
	// transaction when the op is applied (stamped with its Client, and a
	// debit's transaction_id), and skipped when it is a repeat. nil: none.
	Ctx context.Context
}

// CreditOutcome is the answer to one op of a CreditBatchStore batch, shaped
// like ApplyCredit's (a debit: Transaction) or CreateHold's (a hold: Hold)
// results: new or, when Replayed, the original of a repeated reference; or
// the refusal of that op alone (EINVALID "insufficient_credits", ECONFLICT
// "idempotency_conflict").
type CreditOutcome struct {
	Transaction *Transaction
	Hold        *Hold
	Replayed    bool
	Err         error
}

// CreditBatchStore applies several debits and new holds of one account in
// one database transaction (group commit, see credits.GroupCommit).
type CreditBatchStore interface {
	// ApplyCreditBatch locks the user's balance row once and applies each op
	// (all of userID) in order against the running balance and held total:
	// each one accepted, replayed (its reference was used before, in the
	// database or earlier in the batch) or refused on its own, in
	// outcomes[i]. The accepted debits' transaction rows are written in one
	// statement, numbered consecutively in the user's history, and the batch
	// commits once. A non-nil error means the transaction did not commit: no
	// op was applied, and outcomes is nil.
	ApplyCreditBatch(ctx context.Context, userID int64, ops []BatchOp) (outcomes []CreditOutcome, err error)
}

// GroupCommitMetrics is told about every transaction a group commit runs,
// with how many debits and holds it carried (1 for one applied alone). A
// CreditMetrics that also implements it is told by credits.GroupCommit.
// Implementations must be safe for concurrent use.
type GroupCommitMetrics interface {
	GroupCommit(ops int)
}
