package authsvc

import "time"

// Claims are the facts an access token carries (CONTRACT §3).
type Claims struct {
	UserID       int64
	Username     string
	IsAdmin      bool // informational only: admin rights come from the database row
	TokenVersion int64
	JTI          string
	IssuedAt     time.Time
	ExpiresAt    time.Time
	AuthTime     time.Time // when the password was last presented
}

// TransactionType names a credit ledger entry kind.
type TransactionType string

// The two ledger entry kinds.
const (
	CreditAdded TransactionType = "credit_added"
	CreditUsed  TransactionType = "credit_used"
)
