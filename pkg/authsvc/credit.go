package authsvc

import "time"

// Cents is an exact amount of money in hundredths of a credit. It is written
// to JSON as a decimal number (100.5) and never passes through floating point.
type Cents int64

// Transaction is one ledger entry (CONTRACT §4).
type Transaction struct {
	ID          int64           `db:"id" json:"id"`
	UserID      int64           `db:"user_id" json:"user_id"`
	Amount      Cents           `db:"amount" json:"amount"`
	Type        TransactionType `db:"transaction_type" json:"transaction_type"`
	ReferenceID *string         `db:"reference_id" json:"reference_id"`
	Description *string         `db:"description" json:"description"`
	CreatedAt   time.Time       `db:"created_at" json:"created_at"`
	NewBalance  Cents           `db:"balance_after" json:"new_balance"`
}

// Balance is a user's current credit balance.
type Balance struct {
	UserID    int64     `db:"user_id" json:"user_id"`
	Balance   Cents     `db:"balance" json:"balance"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}
