package domain

import (
	"slices"
	"time"
)

// Claims are the facts an access token carries (docs/tokens.md).
type Claims struct {
	UserID       int64
	Username     string
	IsAdmin      bool // informational only: admin rights come from the database row
	TokenVersion int64
	JTI          string
	IssuedAt     time.Time
	ExpiresAt    time.Time
	AuthTime     time.Time // when the password was last presented
	SessionID    string    // sid: the session the token belongs to; "" for tokens issued before sessions existed
	AMR          []string  // amr: the methods of the login (["pwd","otp"] after a second factor); nil for a password-only login
	AAL          string    // aal: "aal2" after a second factor; "" otherwise
}

// AALOf returns the assurance level of a login that used the amr methods:
// "aal2" when a one-time code was among them, or a passkey that verified
// the user (PIN, biometrics), or a passkey after another first factor
// (the password, an upstream provider), or "mfa" (an upstream provider
// trusted for its second factors reported one); else "".
func AALOf(amr []string) string {
	key := slices.Contains(amr, AMRHardwareKey) || slices.Contains(amr, AMRSoftwareKey)
	other := slices.Contains(amr, AMRUser) || slices.Contains(amr, AMRPassword) || slices.Contains(amr, AMRFederated)
	if slices.Contains(amr, AMROTP) || slices.Contains(amr, AMRMFA) || (key && other) {
		return AAL2
	}
	return ""
}

// TransactionType names a credit ledger entry kind.
type TransactionType string

// The two ledger entry kinds.
const (
	CreditAdded TransactionType = "credit_added"
	CreditUsed  TransactionType = "credit_used"
)

// TokenIssuer issues and checks access and password-reset tokens (docs/tokens.md).
// Every Parse method returns EUNAUTHORIZED for a token it refuses, with Reason
// "token_expired" for an expired token and "invalid_token" otherwise.
type TokenIssuer interface {
	// IssueAccess issues an access token for u with the configured lifetime.
	// authTime is when the password was last presented (kept by refresh);
	// sessionID is written as the sid claim when not empty.
	// amr, when given, is written with its aal (see AALOf).
	IssueAccess(u *User, authTime time.Time, sessionID string, amr ...string) (token string, claims *Claims, err error)
	// IssueAccessTTL is IssueAccess with a custom lifetime (EINVALID when ttl <= 0).
	IssueAccessTTL(u *User, authTime time.Time, ttl time.Duration, sessionID string, amr ...string) (token string, claims *Claims, err error)
	// ParseAccess verifies an access token and returns its claims. A reset
	// token is refused.
	ParseAccess(token string) (*Claims, error)
	// IssueReset issues a password-reset token for the user.
	IssueReset(userID int64) (token string, expiresAt time.Time, err error)
	// ParseReset verifies a password-reset token and returns its user id. An
	// access token is refused.
	ParseReset(token string) (userID int64, err error)
}
