package domain

import (
	"context"
	"time"
)

// User is an account. PasswordHash is never serialized.
type User struct {
	ID           int64     `db:"id" json:"id"`
	Username     string    `db:"username" json:"username"`
	Email        string    `db:"email" json:"email"`
	PasswordHash string    `db:"password_hash" json:"-"`
	IsAdmin      bool      `db:"is_admin" json:"is_admin"`
	TokenVersion int64     `db:"token_version" json:"-"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time `db:"updated_at" json:"-"`
	// EmailVerifiedAt is when the current email was confirmed; nil until then.
	EmailVerifiedAt *time.Time `db:"email_verified_at" json:"-"`
}

// NoPassword is the PasswordHash of an account that has no password: one
// made with a passkey or by an identity provider. No password matches it; the
// user sets one through a password reset.
const NoPassword = ""

// HasPassword reports whether the user can sign in with a password.
func (u *User) HasPassword() bool { return u.PasswordHash != NoPassword }

// EmailVerified reports whether the user's current email was confirmed.
func (u *User) EmailVerified() bool { return u.EmailVerifiedAt != nil }

// UserFilter selects users for listing.
type UserFilter struct {
	Limit      int   // 0 means no limit
	AfterID    int64 // only users whose id is greater: the next page after the last id seen
	AdminsOnly bool
}

// UserStore persists users. Every method returns ENOTFOUND for a missing user
// and ECONFLICT for a taken username or email; EUNAVAILABLE when the database
// cannot be reached.
type UserStore interface {
	// CreateUser inserts u (setting ID, timestamps and TokenVersion) and queues
	// the optional messages in the same transaction.
	CreateUser(ctx context.Context, u *User, mail ...*OutboundEmail) error
	UserByID(ctx context.Context, id int64) (*User, error)
	// UserByUsername matches case-insensitively.
	UserByUsername(ctx context.Context, username string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]*User, error)
}

// Clock returns the current time; injected so that tests can move time.
type Clock func() time.Time

// Principal is the authenticated caller of a request: the user row as it is
// now in the database (admin rights come from here, never from the token) and
// the claims of the token presented.
type Principal struct {
	User   *User
	Claims *Claims
	// EnrollmentOnly: an admin without a second factor under
	// auth.mfa_required_for_admins, who may reach the enrolment endpoints only.
	EnrollmentOnly bool
	// APIKey is the key the caller authenticated with; nil for a token.
	// Claims is then empty.
	APIKey *APIKey
}

// SessionID is the caller's session ("" for a token without sid).
func (p *Principal) SessionID() string { return p.Claims.SessionID }

// Authenticator turns a bearer token into a Principal. It returns
// EUNAUTHORIZED for any token that is not a valid, current access token.
type Authenticator interface {
	Authenticate(ctx context.Context, bearerToken string) (*Principal, error)
}
