package domain

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// ImportReference is the reference_id of the credit_added transaction that
// carries an imported user's balance: a repeated import finds it and adds
// nothing.
const ImportReference = "import"

// ImportedUser is one user moved from another system (the original service's
// users table): the bcrypt hash is kept as it is.
type ImportedUser struct {
	Line         int // where the row was in the import file
	Username     string
	Email        string // lowercased
	PasswordHash string // bcrypt, $2a$/$2b$/$2y$
	IsAdmin      bool
	// EmailVerified marks the address as verified at import; the original
	// never verified addresses, so it is false unless the file says so.
	EmailVerified bool
	CreatedAt     time.Time // zero: now
	Balance       Cents     // zero: no transaction
}

// Reasons an imported row conflicts with a user already in the database.
var (
	// ErrImportUsernameTaken: the username belongs to a user with another email.
	ErrImportUsernameTaken = errors.New(MsgImportUsernameTaken)
	// ErrImportEmailTaken: the email belongs to a user with another username.
	ErrImportEmailTaken = errors.New(MsgImportEmailTaken)
	// ErrImportPasswordDiffers: a user with the same username and email
	// exists with another password hash: maybe someone who registered the
	// name first, so it gets neither the hash nor the balance.
	ErrImportPasswordDiffers = errors.New(MsgImportPasswordDiffers)
)

// ImportOptions say how ImportUsers treats conflicts.
type ImportOptions struct {
	// SkipConflicts leaves conflicting rows out (listed in
	// ImportResult.Skipped) instead of rolling the import back.
	SkipConflicts bool
	// CreditExisting credits the balance to an existing user with the same
	// username and email even when their password hash differs (the
	// operator knows these accounts are their owners'); the password stays.
	CreditExisting bool
}

// ImportRowError is one row that could not be imported.
type ImportRowError struct {
	Line int
	Err  error
}

// Error implements error.
func (e *ImportRowError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ImportRowError) Unwrap() error { return e.Err }

// ImportResult counts what an import did.
type ImportResult struct {
	Created   int              `json:"created"`   // new users
	Unchanged int              `json:"unchanged"` // already there with the same username and email
	Credited  int              `json:"credited"`  // balances added (each once, ever)
	Skipped   []ImportRowError `json:"-"`         // rows left out (only with skipping)
}

// UserImporter stores imported users.
type UserImporter interface {
	// ImportUsers stores users in one transaction. A user whose username,
	// email and password hash all match an existing user (an earlier import
	// of the same file) is left as it is; its balance is added once
	// (reference ImportReference). A row that conflicts with an existing
	// user (ErrImportUsernameTaken, ErrImportEmailTaken, and
	// ErrImportPasswordDiffers unless opts.CreditExisting) rolls the whole
	// import back with an *ImportRowError, or, with opts.SkipConflicts, is
	// left out and listed in ImportResult.Skipped. EUNAVAILABLE when the
	// database cannot be reached.
	ImportUsers(ctx context.Context, users []ImportedUser, opts ImportOptions) (*ImportResult, error)
}
