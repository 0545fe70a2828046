package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

var _ domain.MFAStore = (*DB)(nil)

const (
	selectTOTP = `SELECT user_id, secret, confirmed_at, last_step, created_at FROM mfa_totp WHERE user_id = ?`
	// upsertTOTP replaces only an unconfirmed row: a confirmed factor is
	// never overwritten by a new enrolment.
	upsertTOTP = `INSERT INTO mfa_totp (user_id, secret, confirmed_at, last_step, created_at) VALUES (?, ?, NULL, 0, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
		WHERE mfa_totp.confirmed_at IS NULL`
	confirmTOTP = `UPDATE mfa_totp SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at IS NULL`
	useStep     = `UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?`
	useRecovery = `UPDATE mfa_recovery_codes SET used_at = ?
		WHERE id = (SELECT id FROM mfa_recovery_codes WHERE user_id = ? AND code_hash = ? AND used_at IS NULL LIMIT 1) AND used_at IS NULL`
	countRecovery   = `SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = ? AND used_at IS NULL`
	usedRecovery    = `SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = ? AND code_hash = ? AND used_at IS NOT NULL`
	insertChallenge = `INSERT INTO mfa_challenges (token_hash, user_id, first_factor, failures, expires_at, created_at) VALUES (?, ?, ?, 0, ?, ?)`
	selectChallenge = `SELECT token_hash, user_id, first_factor, failures, expires_at, created_at FROM mfa_challenges WHERE token_hash = ? AND expires_at > ?`
	// attemptChallenge counts an attempt (the failures column) only while
	// fewer than the limit were made: the check and the count are one write.
	attemptChallenge = `UPDATE mfa_challenges SET failures = failures + 1
		WHERE token_hash = ? AND expires_at > ? AND failures < ?
		RETURNING token_hash, user_id, first_factor, failures, expires_at, created_at`
)

// PutTOTP stores an unconfirmed sealed secret for the user.
func (db *DB) PutTOTP(ctx context.Context, userID int64, sealed []byte) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(upsertTOTP), userID, sealed, db.Now())
		if err != nil {
			if isForeignKeyViolation(err) {
				return userNotFound(err)
			}
			return fmt.Errorf("put totp: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrMFAAlreadyEnabled
		}
		return nil
	})
}

// TOTP returns the user's factor; ErrMFANotEnrolled when none.
func (db *DB) TOTP(ctx context.Context, userID int64) (_ *domain.TOTPFactor, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var f domain.TOTPFactor
	err = db.pool.GetContext(ctx, &f, db.pool.Rebind(selectTOTP), userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.ErrMFANotEnrolled
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("totp: %w", err))
	}
	f.CreatedAt = f.CreatedAt.UTC()
	return &f, nil
}

// MFAEnabled reports whether the user has a confirmed factor.
func (db *DB) MFAEnabled(ctx context.Context, userID int64) (bool, error) {
	f, err := db.TOTP(ctx, userID)
	if errors.Is(err, domain.ErrMFANotEnrolled) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return f.Confirmed(), nil
}

// ConfirmTOTP activates the factor and replaces the recovery codes.
func (db *DB) ConfirmTOTP(ctx context.Context, userID, step int64, recoveryHashes []string, mail ...*domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(confirmTOTP), db.Now(), step, userID)
		if err != nil {
			return fmt.Errorf("confirm totp: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var confirmed sql.NullTime
			err := tx.QueryRowxContext(ctx, tx.Rebind(`SELECT confirmed_at FROM mfa_totp WHERE user_id = ?`), userID).Scan(&confirmed)
			if errors.Is(err, sql.ErrNoRows) {
				return domain.ErrMFANotEnrolled
			}
			if err != nil {
				return fmt.Errorf("confirm totp: %w", err)
			}
			return domain.ErrMFAAlreadyEnabled
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM mfa_recovery_codes WHERE user_id = ?`), userID); err != nil {
			return fmt.Errorf("replace recovery codes: %w", err)
		}
		for _, h := range recoveryHashes {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES (?, ?)`), userID, h); err != nil {
				return fmt.Errorf("insert recovery code: %w", err)
			}
		}
		return db.enqueueEmails(ctx, tx, mail...)
	})
}

// UseTOTPStep records step as used when it is newer than the last one.
func (db *DB) UseTOTPStep(ctx context.Context, userID, step int64) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(useStep), step, userID, step)
		if err != nil {
			return fmt.Errorf("use totp step: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrMFACodeUsed
		}
		return nil
	})
}

// UseRecoveryCode marks one unused code with that hash used and returns the
// codes left.
func (db *DB) UseRecoveryCode(ctx context.Context, userID int64, hash string) (int, error) {
	var left int
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(useRecovery), db.Now(), userID, hash)
		if err != nil {
			return fmt.Errorf("use recovery code: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var used int
			if err := tx.QueryRowxContext(ctx, tx.Rebind(usedRecovery), userID, hash).Scan(&used); err != nil {
				return fmt.Errorf("use recovery code: %w", err)
			}
			if used > 0 {
				return domain.ErrMFACodeUsed
			}
			return domain.ErrMFAInvalidCode
		}
		return tx.QueryRowxContext(ctx, tx.Rebind(countRecovery), userID).Scan(&left)
	})
	return left, err
}

// DeleteTOTP removes the factor, its recovery codes and pending challenges.
func (db *DB) DeleteTOTP(ctx context.Context, userID int64, keepSession string, mail ...*domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM mfa_totp WHERE user_id = ? AND confirmed_at IS NOT NULL`), userID)
		if err != nil {
			return fmt.Errorf("delete totp: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrMFANotEnrolled
		}
		for _, q := range []string{`DELETE FROM mfa_totp WHERE user_id = ?`, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`,
			`DELETE FROM mfa_challenges WHERE user_id = ?`} {
			if _, err := tx.ExecContext(ctx, tx.Rebind(q), userID); err != nil {
				return fmt.Errorf("delete mfa rows: %w", err)
			}
		}
		if _, err := endSessions(ctx, tx, userID, keepSession); err != nil {
			return err
		}
		return db.enqueueEmails(ctx, tx, mail...)
	})
}

// MFAChallenge returns the unexpired challenge with that hash.
func (db *DB) MFAChallenge(ctx context.Context, tokenHash string) (_ *domain.MFAChallenge, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var c domain.MFAChallenge
	err = db.pool.GetContext(ctx, &c, db.pool.Rebind(selectChallenge), tokenHash, db.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.ErrInvalidMFAToken
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("mfa challenge: %w", err))
	}
	c.ExpiresAt, c.CreatedAt = c.ExpiresAt.UTC(), c.CreatedAt.UTC()
	return &c, nil
}

// AttemptMFAChallenge counts one attempt at the unexpired challenge with
// that hash and returns it, in one statement, before any code is checked: of
// any number of concurrent attempts at most maxAttempts get the challenge.
// ErrInvalidMFAToken when it is gone, expired or its attempts are used up.
func (db *DB) AttemptMFAChallenge(ctx context.Context, tokenHash string, maxAttempts int) (*domain.MFAChallenge, error) {
	var c domain.MFAChallenge
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &c, tx.Rebind(attemptChallenge), tokenHash, db.Now(), maxAttempts)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.ErrInvalidMFAToken
		}
		if err != nil {
			return fmt.Errorf("attempt mfa challenge: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.ExpiresAt, c.CreatedAt = c.ExpiresAt.UTC(), c.CreatedAt.UTC()
	return &c, nil
}

// DeleteMFAChallenge deletes the challenge; ErrInvalidMFAToken when gone.
func (db *DB) DeleteMFAChallenge(ctx context.Context, tokenHash string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM mfa_challenges WHERE token_hash = ?`), tokenHash)
		if err != nil {
			return fmt.Errorf("delete mfa challenge: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrInvalidMFAToken
		}
		return nil
	})
}
