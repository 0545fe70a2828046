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

// RevokeToken puts the token id jti on the revocation list until expiresAt
// (after which the token is refused for having expired anyway). It returns
// ECONFLICT with Reason "token_revoked" when jti was already revoked, so that
// of two concurrent refreshes with one token exactly one wins.
func (db *DB) RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		return revokeToken(ctx, tx, jti, expiresAt)
	})
}

func revokeToken(ctx context.Context, tx *sqlx.Tx, jti string, expiresAt time.Time) error {
	res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO NOTHING`), jti, expiresAt.UTC())
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return domain.ErrTokenRevoked
	}
	return nil
}

// CreateResetToken stores the SHA-256 hash of a new password-reset token of
// the user and queues mail in the same transaction, unless the user was given
// a reset token less than minInterval ago: then it writes nothing and returns
// false. ENOTFOUND when the user is gone.
func (db *DB) CreateResetToken(ctx context.Context, userID int64, tokenHash string, expiresAt time.Time,
	minInterval time.Duration, mail ...*domain.OutboundEmail) (bool, error) {
	created := false
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		now := db.Now()
		if err := lockUser(ctx, tx, db.Dialect, userID); err != nil {
			return err
		}
		var recent bool
		err := tx.GetContext(ctx, &recent, tx.Rebind(`SELECT EXISTS (SELECT 1 FROM password_reset_tokens
			WHERE user_id = ? AND created_at > ?)`), userID, now.Add(-minInterval))
		if err != nil {
			return fmt.Errorf("check reset throttle: %w", err)
		}
		if recent {
			skipAudit(ctx)
			return nil
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO password_reset_tokens
			(user_id, token_hash, expires_at, used, created_at) VALUES (?, ?, ?, ?, ?)`),
			userID, tokenHash, expiresAt.UTC(), false, now)
		if err != nil {
			return fmt.Errorf("insert reset token: %w", err)
		}
		created = true
		return db.enqueueEmails(ctx, tx, mail...)
	})
	return created && err == nil, err
}

// lockUser takes the user's row lock for the rest of tx (PostgreSQL; SQLite
// write transactions are serialized already); ENOTFOUND when the user is gone.
func lockUser(ctx context.Context, tx *sqlx.Tx, dialect Dialect, userID int64) error {
	lock := `SELECT id FROM users WHERE id = ?`
	if dialect == Postgres {
		lock += ` FOR UPDATE`
	}
	var id int64
	if err := tx.GetContext(ctx, &id, tx.Rebind(lock), userID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return userNotFound(err)
		}
		return fmt.Errorf("lock user: %w", err)
	}
	return nil
}

// ConsumeResetToken uses the reset token with the given hash, which must
// belong to userID, be unused and unexpired; in the same transaction it sets
// the new password hash, bumps the token version and marks every other reset
// token of the user used. Exactly one of many concurrent calls with one token
// succeeds; the others get EINVALID with Reason "invalid_token".
func (db *DB) ConsumeResetToken(ctx context.Context, tokenHash string, userID int64, newHash string) (*domain.User, error) {
	var u *domain.User
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		// Lock the user row first, as every other writer of a user's rows
		// does, so that a reset and a password change cannot deadlock.
		if err := lockUser(ctx, tx, db.Dialect, userID); err != nil {
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				return domain.ErrInvalidResetToken
			}
			return err
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE password_reset_tokens SET used = ?
			WHERE token_hash = ? AND user_id = ? AND used = ? AND expires_at > ?`),
			true, tokenHash, userID, false, db.Now())
		if err != nil {
			return fmt.Errorf("use reset token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return domain.ErrInvalidResetToken
		}
		if u, err = db.setPassword(ctx, tx, userID, newHash); err != nil {
			return err
		}
		if u.EmailVerifiedAt == nil {
			return db.claimAccount(ctx, tx, u)
		}
		return nil
	})
	return u, err
}

// claimAccount is a reset of an account whose email was never verified:
// the reset proves the email, so its email becomes verified and every way
// in that was added before anyone had proved it (passkeys, linked
// identities, pending links) is removed. Otherwise whoever registered
// someone else's address first (pre-account hijacking) would keep a way
// into the account its owner has just taken over. (A second factor is not
// a way in; it stays.)
func (db *DB) claimAccount(ctx context.Context, tx *sqlx.Tx, u *domain.User) error {
	now := db.Now()
	for _, q := range []string{
		`DELETE FROM webauthn_credentials WHERE user_id = ?`,
		`DELETE FROM user_identities WHERE user_id = ?`,
		`DELETE FROM federation_flows WHERE link_user_id = ?`,
		`DELETE FROM federation_codes WHERE link_user_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), u.ID); err != nil {
			return fmt.Errorf("claim account: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE users SET email_verified_at = ? WHERE id = ?`), now, u.ID); err != nil {
		return fmt.Errorf("claim account: %w", err)
	}
	u.EmailVerifiedAt = &now
	return nil
}

// ClearLoginFailures forgets the failed logins of username (after a
// successful login).
func (db *DB) ClearLoginFailures(ctx context.Context, username string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := db.relaxCommit(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM login_failures WHERE username = ?`), username)
		if err != nil {
			return fmt.Errorf("clear login failures: %w", err)
		}
		return nil
	})
}

// PurgeStats counts the rows a Purge deleted.
type PurgeStats = domain.PurgeStats

// Purge deletes expired revocations, reset tokens and sessions (past
// auth.max_session_hours), and login-failure counters whose window (of the
// given length) has ended.
func (db *DB) Purge(ctx context.Context, loginWindow time.Duration) (PurgeStats, error) {
	var st PurgeStats
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		now := db.Now()
		steps := []struct {
			query string
			arg   time.Time
			n     *int64
		}{
			{`DELETE FROM revoked_tokens WHERE expires_at <= ?`, now, &st.RevokedTokens},
			{`DELETE FROM password_reset_tokens WHERE expires_at <= ?`, now, &st.ResetTokens},
			{`DELETE FROM login_failures WHERE window_start <= ?`, now.Add(-loginWindow), &st.LoginFailures},
			{`DELETE FROM sessions WHERE expires_at <= ?`, now, &st.Sessions},
			{`DELETE FROM email_verification_tokens WHERE expires_at <= ?`, now, &st.Verifications},
			{`DELETE FROM mfa_challenges WHERE expires_at <= ?`, now, &st.MFAChallenges},
			{`DELETE FROM webauthn_challenges WHERE expires_at <= ?`, now, &st.PasskeyChallenges},
			{`DELETE FROM federation_flows WHERE expires_at <= ?`, now, &st.FederationFlows},
			{`DELETE FROM federation_codes WHERE expires_at <= ?`, now, &st.FederationCodes},
		}
		for _, s := range steps {
			res, err := tx.ExecContext(ctx, tx.Rebind(s.query), s.arg)
			if err != nil {
				return fmt.Errorf("purge: %w", err)
			}
			if *s.n, err = res.RowsAffected(); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}
