package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Access is the outcome of the self-or-admin rule.
type Access int

// The outcomes of SelfOrAdmin.
const (
	AccessDenied Access = iota // another user's account, and the caller is no admin
	AccessSelf                 // the caller's own account
	AccessAdmin                // another user's account, and the caller is an admin
)

// SelfOrAdmin is the one self-or-admin rule: a caller acts on their own
// account (named case-insensitively; "" names the caller) or, being an admin,
// on anyone's. The caller decides what a denial says; a non-admin naming
// another user is denied whether or not that user exists.
func SelfOrAdmin(actor *User, username string) Access {
	switch {
	case username == "" || strings.EqualFold(username, actor.Username):
		return AccessSelf
	case actor.IsAdmin:
		return AccessAdmin
	default:
		return AccessDenied
	}
}

// SelfOrAdminID is SelfOrAdmin for an account named by id (0 names the caller).
func SelfOrAdminID(actor *User, userID int64) Access {
	switch {
	case userID == 0 || userID == actor.ID:
		return AccessSelf
	case actor.IsAdmin:
		return AccessAdmin
	default:
		return AccessDenied
	}
}

// TokenLeeway is the clock skew allowed on a token's exp, nbf and iat.
const TokenLeeway = 30 * time.Second

// RandomToken returns n random bytes, base64url: the one way authsvc makes
// an opaque secret (tokens, codes, ids, form tokens). crypto/rand never
// fails (Go 1.24+).
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the hex SHA-256 of a token: what the database stores
// instead of a reset token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenRefusal is implemented by the cause of a refused token: the reason,
// for metrics (never shown to clients).
type TokenRefusal interface {
	RefusalReason() string
}
