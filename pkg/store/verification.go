package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

var _ domain.VerificationStore = (*DB)(nil)

// CreateEmailVerification stores v and queues mail in one transaction,
// unless the user was sent a link less than minInterval ago (then nothing is
// written and it returns false). ENOTFOUND when the user is gone.
func (db *DB) CreateEmailVerification(ctx context.Context, v *domain.EmailVerification, minInterval time.Duration,
	mail ...*domain.OutboundEmail) (bool, error) {
	created := false
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		now := db.Now()
		if err := lockUser(ctx, tx, db.Dialect, v.UserID); err != nil {
			return err
		}
		if minInterval > 0 {
			var recent bool
			err := tx.GetContext(ctx, &recent, tx.Rebind(`SELECT EXISTS (SELECT 1 FROM email_verification_tokens
				WHERE user_id = ? AND created_at > ?)`), v.UserID, now.Add(-minInterval))
			if err != nil {
				return fmt.Errorf("check verification throttle: %w", err)
			}
			if recent {
				skipAudit(ctx)
				return nil
			}
		}
		if err := insertVerification(ctx, tx, v, now); err != nil {
			return err
		}
		created = true
		return db.enqueueEmails(ctx, tx, mail...)
	})
	return created && err == nil, err
}

func insertVerification(ctx context.Context, tx *sqlx.Tx, v *domain.EmailVerification, now time.Time) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO email_verification_tokens
		(user_id, email, token_hash, expires_at, used, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		v.UserID, domain.CanonicalEmail(v.Email), v.TokenHash, v.ExpiresAt.UTC(), false, now)
	if err != nil {
		return fmt.Errorf("insert verification token: %w", err)
	}
	return nil
}

// ConsumeEmailVerification implements domain.VerificationStore. Of
// concurrent uses of one link exactly one succeeds.
func (db *DB) ConsumeEmailVerification(ctx context.Context, tokenHash string) (*domain.User, bool, error) {
	var u *domain.User
	changed := false
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var userID int64
		err := tx.GetContext(ctx, &userID, tx.Rebind(`SELECT user_id FROM email_verification_tokens WHERE token_hash = ?`), tokenHash)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.ErrInvalidVerifyToken.With(err)
		}
		if err != nil {
			return fmt.Errorf("find verification token: %w", err)
		}
		if p := domain.AuditFrom(ctx); p != nil {
			p.SetSubject(userID)
		}
		// Lock the user first, as every writer of a user's rows does.
		if err := lockUser(ctx, tx, db.Dialect, userID); err != nil {
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				return domain.ErrInvalidVerifyToken.With(err)
			}
			return err
		}
		now := db.Now()
		var email string
		err = tx.GetContext(ctx, &email, tx.Rebind(`UPDATE email_verification_tokens SET used = ?
			WHERE token_hash = ? AND used = ? AND expires_at > ? RETURNING email`), true, tokenHash, false, now)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.ErrInvalidVerifyToken.With(err)
		}
		if err != nil {
			return fmt.Errorf("use verification token: %w", err)
		}
		current, err := db.getUser(ctx, tx, `u.id = ?`, userID)
		if err != nil {
			return err
		}
		if current.Email == email {
			u, err = db.updateUser(ctx, tx, userID, `email_verified_at = ?`, now)
			return err
		}
		changed = true
		annotateAudit(ctx, "email_changed", true)
		annotateAudit(ctx, "old_email", current.Email)
		annotateAudit(ctx, "new_email", email)
		u, err = db.changeEmail(ctx, tx, userID, email, &now)
		return err
	})
	return u, changed, err
}

// SetEmailVerified marks the user's current email verified now. ENOTFOUND.
func (db *DB) SetEmailVerified(ctx context.Context, userID int64) (*domain.User, error) {
	var u *domain.User
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		u, err = db.updateUser(ctx, tx, userID, `email_verified_at = ?`, db.Now())
		return err
	})
	return u, err
}

// retirePendingEmailChanges marks used every outstanding link of the user
// that would move the account to another address than current: a password
// change or reset is how an owner takes an account back, so an email change
// asked for with the old password must not outlive it. A link that confirms
// the current address stays.
func retirePendingEmailChanges(ctx context.Context, tx *sqlx.Tx, userID int64, current string) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE email_verification_tokens SET used = ?
		WHERE user_id = ? AND used = ? AND email <> ?`), true, userID, false, current)
	if err != nil {
		return fmt.Errorf("retire pending email changes: %w", err)
	}
	return nil
}

// retireVerifications marks every outstanding verification link of the user
// used (the address they confirm is no longer wanted).
func retireVerifications(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE email_verification_tokens SET used = ? WHERE user_id = ? AND used = ?`),
		true, userID, false)
	if err != nil {
		return fmt.Errorf("retire verification tokens: %w", err)
	}
	return nil
}
