package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// userColumns is the column list every user query selects.
const userColumns = `u.id, u.username, u.email, u.password_hash, u.is_admin, u.token_version, u.created_at, u.updated_at,
	u.email_verified_at`

// The unique indexes of users (sql/*/0001_initial.sql).
const (
	constraintUsername = "users_username_lower_key"
	constraintEmail    = "users_email_key"
)

func userNotFound(err error) error { return domain.ErrUserNotFound.With(err) }

// normalizeUser converts the timestamps of u to UTC.
func normalizeUser(u *domain.User) *domain.User {
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	if u.EmailVerifiedAt != nil {
		t := u.EmailVerifiedAt.UTC()
		u.EmailVerifiedAt = &t
	}
	return u
}

// uniqueUserError tells which unique index of users a violation hit, by the
// index's name: domain.ErrEmailTaken or domain.ErrUsernameTaken.
func uniqueUserError(err error) error {
	if !isUniqueViolation(err) {
		return err
	}
	switch violatedConstraint(err) {
	case constraintEmail:
		return domain.ErrEmailTaken.With(err)
	case constraintUsername:
		return domain.ErrUsernameTaken.With(err)
	}
	return err
}

// CreateUser inserts u (setting ID, TokenVersion and timestamps; the email is
// stored lowercased; a non-nil EmailVerifiedAt means verified now) and
// queues mail in the same transaction. It returns
// ECONFLICT with Reason "username_taken" or "email_taken".
func (db *DB) CreateUser(ctx context.Context, u *domain.User, mail ...*domain.OutboundEmail) error {
	return db.RegisterUser(ctx, u, nil, mail...)
}

// RegisterUser is CreateUser that also stores verify (the link confirming
// the new user's email; its UserID is set here) in the same transaction.
func (db *DB) RegisterUser(ctx context.Context, u *domain.User, verify *domain.EmailVerification,
	mail ...*domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error { return db.registerUser(ctx, tx, u, verify, mail...) })
}

// registerUser is RegisterUser's work inside tx.
func (db *DB) registerUser(ctx context.Context, tx *sqlx.Tx, u *domain.User, verify *domain.EmailVerification,
	mail ...*domain.OutboundEmail) error {
	now := db.Now()
	u.Email = domain.CanonicalEmail(u.Email)
	var verified any
	if u.EmailVerifiedAt != nil {
		t := now
		u.EmailVerifiedAt, verified = &t, now
	}
	// u.ID is 0 (the database numbers the row) or an id ReserveUserID gave.
	idCol, idVal, args := "", "", []any{u.Username, u.Email, u.PasswordHash, u.IsAdmin, now, now, verified}
	if u.ID != 0 {
		idCol, idVal, args = "id, ", "?, ", append([]any{u.ID}, args...)
	}
	err := tx.QueryRowxContext(ctx, tx.Rebind(`INSERT INTO users
		(`+idCol+`username, email, password_hash, is_admin, token_version, created_at, updated_at, email_verified_at)
		VALUES (`+idVal+`?, ?, ?, ?, 1, ?, ?, ?) RETURNING id`), args...).Scan(&u.ID)
	if err != nil {
		return uniqueUserError(err)
	}
	u.TokenVersion, u.CreatedAt, u.UpdatedAt = 1, now, now
	if p := domain.AuditFrom(ctx); p != nil {
		p.SetSubject(u.ID)
	}
	if verify != nil {
		verify.UserID = u.ID
		if err := insertVerification(ctx, tx, verify, now); err != nil {
			return err
		}
	}
	return db.enqueueEmails(ctx, tx, mail...)
}

// getUser runs a single-row user query; no row is ENOTFOUND.
func (db *DB) getUser(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (*domain.User, error) {
	var u domain.User
	err := sqlx.GetContext(ctx, q, &u, db.pool.Rebind(`SELECT `+userColumns+` FROM users u WHERE `+where), args...)
	if err != nil {
		if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
			return nil, userNotFound(err)
		}
		return nil, mapError(fmt.Errorf("get user: %w", err))
	}
	return normalizeUser(&u), nil
}

// UserByID returns the user with the given id, or ENOTFOUND.
func (db *DB) UserByID(ctx context.Context, id int64) (_ *domain.User, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	return db.getUser(ctx, db.pool, `u.id = ?`, id)
}

// UserByUsername returns the user whose username matches case-insensitively,
// or ENOTFOUND.
func (db *DB) UserByUsername(ctx context.Context, username string) (_ *domain.User, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	if !storable(username) {
		return nil, userNotFound(nil)
	}
	return db.getUser(ctx, db.pool, `lower(u.username) = ?`, strings.ToLower(username))
}

// UserByEmail returns the user with the given email (compared lowercased),
// or ENOTFOUND.
func (db *DB) UserByEmail(ctx context.Context, email string) (_ *domain.User, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	if !storable(email) {
		return nil, userNotFound(nil)
	}
	return db.getUser(ctx, db.pool, `u.email = ?`, domain.CanonicalEmail(email))
}

// ListUsers returns users ordered by id: a page of f.Limit after f.AfterID.
func (db *DB) ListUsers(ctx context.Context, f domain.UserFilter) ([]*domain.User, error) {
	q := `SELECT ` + userColumns + ` FROM users u WHERE u.id > ?`
	args := []any{f.AfterID}
	if f.AdminsOnly {
		q += ` AND u.is_admin = ?`
		args = append(args, true)
	}
	q += ` ORDER BY u.id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	users := []*domain.User{}
	if err := sqlx.SelectContext(ctx, db.pool, &users, db.pool.Rebind(q), args...); err != nil {
		return nil, mapError(fmt.Errorf("list users: %w", err))
	}
	for _, u := range users {
		normalizeUser(u)
	}
	return users, nil
}

// authUserQuery is the one query of an authenticated request.
const authUserQuery = `SELECT ` + userColumns + `,
	EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = ?) AS revoked,
	EXISTS (SELECT 1 FROM sessions s WHERE s.id = ? AND s.user_id = u.id AND s.expires_at > ?) AS session_alive
	FROM users u WHERE u.id = ?`

// AuthUser is the one query of an authenticated request: the user row with
// the given id, whether jti is on the revocation list and whether the
// session sessionID is alive. A missing user is ENOTFOUND.
func (db *DB) AuthUser(ctx context.Context, userID int64, jti, sessionID string) (_ *domain.AuthCheck, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var row struct {
		domain.User
		Revoked      bool `db:"revoked"`
		SessionAlive bool `db:"session_alive"`
	}
	err = db.queryRow(ctx, authUserQuery, jti, sessionID, db.Now(), userID).StructScan(&row)
	if err != nil {
		if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
			return nil, userNotFound(err)
		}
		return nil, mapError(fmt.Errorf("authenticate user: %w", err))
	}
	return &domain.AuthCheck{User: normalizeUser(&row.User), Revoked: row.Revoked, SessionAlive: row.SessionAlive}, nil
}

// updateUser runs an UPDATE on one user inside tx and returns the row after
// it; ENOTFOUND when the user is gone.
func (db *DB) updateUser(ctx context.Context, tx *sqlx.Tx, userID int64, set string, args ...any) (*domain.User, error) {
	args = append(append([]any{}, args...), db.Now(), userID)
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE users SET `+set+`, updated_at = ? WHERE id = ?`), args...)
	if err != nil {
		return nil, uniqueUserError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, userNotFound(nil)
	}
	return db.getUser(ctx, tx, `u.id = ?`, userID)
}

// UpdatePassword sets the user's password hash, bumps the token version (so
// every earlier token dies) and marks all the user's reset tokens used, in
// one transaction. It returns the updated user, or ENOTFOUND.
func (db *DB) UpdatePassword(ctx context.Context, userID int64, hash string) (*domain.User, error) {
	var u *domain.User
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		u, err = db.setPassword(ctx, tx, userID, hash)
		return err
	})
	return u, err
}

func (db *DB) setPassword(ctx context.Context, tx *sqlx.Tx, userID int64, hash string) (*domain.User, error) {
	u, err := db.updateUser(ctx, tx, userID, `password_hash = ?, token_version = token_version + 1`, hash)
	if err != nil {
		return nil, err
	}
	if err := retireResetTokens(ctx, tx, userID); err != nil {
		return nil, err
	}
	if err := retirePendingEmailChanges(ctx, tx, userID, u.Email); err != nil {
		return nil, err
	}
	if _, err := endSessions(ctx, tx, userID, ""); err != nil {
		return nil, err
	}
	// A login half done with the old password (an mfa_token) ends too.
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM mfa_challenges WHERE user_id = ?`), userID); err != nil {
		return nil, fmt.Errorf("delete mfa challenges: %w", err)
	}
	return u, nil
}

// retireResetTokens marks every outstanding reset token of the user used.
func retireResetTokens(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE password_reset_tokens SET used = ? WHERE user_id = ? AND used = ?`),
		true, userID, false)
	if err != nil {
		return fmt.Errorf("retire reset tokens: %w", err)
	}
	return nil
}

// UpdateEmail sets the user's email (lowercased, not yet verified), bumps the
// token version and queues mail (the notice to the old address) in the same
// transaction; with verify, the link confirming the new address is stored in
// it too. It returns the updated user, ENOTFOUND, or ECONFLICT (Reason
// "email_taken").
func (db *DB) UpdateEmail(ctx context.Context, userID int64, email string, verify *domain.EmailVerification,
	mail ...*domain.OutboundEmail) (*domain.User, error) {
	var u *domain.User
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if u, err = db.changeEmail(ctx, tx, userID, email, nil); err != nil {
			return err
		}
		if verify != nil {
			if err := insertVerification(ctx, tx, verify, db.Now()); err != nil {
				return err
			}
		}
		return db.enqueueEmails(ctx, tx, mail...)
	})
	return u, err
}

// changeEmail sets the user's email (verified at verifiedAt, nil for not
// yet) and bumps the token version inside tx. Reset and verification links
// sent before must not outlive the change, nor a session whose tokens the
// version bump ended.
func (db *DB) changeEmail(ctx context.Context, tx *sqlx.Tx, userID int64, email string, verifiedAt *time.Time) (*domain.User, error) {
	var verified any
	if verifiedAt != nil {
		verified = verifiedAt.UTC()
	}
	u, err := db.updateUser(ctx, tx, userID, `email = ?, email_verified_at = ?, token_version = token_version + 1`,
		domain.CanonicalEmail(email), verified)
	if err != nil {
		return nil, err
	}
	if err := retireResetTokens(ctx, tx, userID); err != nil {
		return nil, err
	}
	if err := retireVerifications(ctx, tx, userID); err != nil {
		return nil, err
	}
	if _, err := endSessions(ctx, tx, userID, ""); err != nil {
		return nil, err
	}
	// A login half done with the old password (an mfa_token) ends too.
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM mfa_challenges WHERE user_id = ?`), userID); err != nil {
		return nil, fmt.Errorf("delete mfa challenges: %w", err)
	}
	return u, nil
}

// SetAdmin grants or revokes admin rights. Tokens stay valid: rights are read
// from the row on every request. It returns the updated user or ENOTFOUND.
func (db *DB) SetAdmin(ctx context.Context, userID int64, isAdmin bool) (*domain.User, error) {
	var u *domain.User
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		u, err = db.updateUser(ctx, tx, userID, `is_admin = ?`, isAdmin)
		return err
	})
	return u, err
}

// DeleteUser deletes the user and (by cascade) their reset tokens and
// credits. Tokens of a deleted user fail the "user exists" check. ENOTFOUND
// when there is no such user.
func (db *DB) DeleteUser(ctx context.Context, userID int64) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM users WHERE id = ?`), userID)
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return userNotFound(nil)
		}
		return nil
	})
}

// HighestPasswordCost returns the highest bcrypt cost among the stored
// password hashes (0 without users). Imported hashes keep their cost until
// a login rehashes them; serve makes its dummy compare as slow.
func (db *DB) HighestPasswordCost(ctx context.Context) (_ int, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var cost sql.NullString // "$2b$12$…": the two digits after the version; lexical max = numeric max
	// One step down users_password_cost_idx, whatever the table's size.
	q := db.pool.Rebind(`SELECT MAX(substr(password_hash, 5, 2)) FROM users`)
	if err := db.pool.QueryRowxContext(ctx, q).Scan(&cost); err != nil {
		return 0, mapError(fmt.Errorf("highest password cost: %w", err))
	}
	if !cost.Valid {
		return 0, nil
	}
	n, err := strconv.Atoi(cost.String)
	if err != nil {
		return 0, fmt.Errorf("highest password cost %q: %w", cost.String, err)
	}
	return n, nil
}
