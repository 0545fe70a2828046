package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

var _ domain.PasskeyStore = (*DB)(nil)

const (
	insertWebAuthnChallenge = `INSERT INTO webauthn_challenges (challenge_hash, purpose, user_id, session_data, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	// takeWebAuthnChallenge deletes and returns in one statement: of any
	// number of concurrent finishes exactly one gets the row.
	takeWebAuthnChallenge = `DELETE FROM webauthn_challenges WHERE challenge_hash = ? AND purpose = ? AND expires_at > ?
		RETURNING challenge_hash, purpose, COALESCE(user_id, 0) AS user_id, session_data, expires_at, created_at`
	passkeyColumns = `id, user_id, credential_id, public_key, sign_count, transports, aaguid, backup_eligible, backup_state,
		user_verified, name, created_at, last_used_at`
	insertPasskey = `INSERT INTO webauthn_credentials (user_id, credential_id, public_key, sign_count, transports, aaguid,
		backup_eligible, backup_state, user_verified, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// usePasskey moves the counter forward only: a count that does not grow
	// (unless the authenticator keeps none, both 0) changes nothing.
	usePasskey = `UPDATE webauthn_credentials SET sign_count = ?, backup_state = ?, last_used_at = ?
		WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`
)

// passkeyRow is a webauthn_credentials row (transports as JSON text).
type passkeyRow struct {
	domain.Passkey
	TransportsJSON string `db:"transports"`
}

func (r *passkeyRow) passkey() *domain.Passkey {
	p := r.Passkey
	p.CreatedAt = p.CreatedAt.UTC()
	if p.LastUsedAt != nil {
		t := p.LastUsedAt.UTC()
		p.LastUsedAt = &t
	}
	if err := json.Unmarshal([]byte(r.TransportsJSON), &p.Transports); err != nil || p.Transports == nil {
		p.Transports = []string{}
	}
	return &p
}

// PutWebAuthnChallenge stores a challenge of a passkey ceremony.
func (db *DB) PutWebAuthnChallenge(ctx context.Context, c *domain.WebAuthnChallenge) error {
	var user any
	if c.UserID != 0 {
		user = c.UserID
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(insertWebAuthnChallenge), c.ChallengeHash, c.Purpose, user, c.SessionData,
			c.ExpiresAt.UTC(), c.CreatedAt.UTC())
		if err != nil {
			if isForeignKeyViolation(err) {
				return userNotFound(err)
			}
			return fmt.Errorf("put webauthn challenge: %w", err)
		}
		return nil
	})
}

// TakeWebAuthnChallenge deletes and returns the unexpired challenge with that
// hash and purpose; ErrPasskeyChallenge when there is none.
func (db *DB) TakeWebAuthnChallenge(ctx context.Context, hash, purpose string) (*domain.WebAuthnChallenge, error) {
	var c domain.WebAuthnChallenge
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &c, tx.Rebind(takeWebAuthnChallenge), hash, purpose, db.Now())
		if errors.Is(err, sql.ErrNoRows) {
			return domain.ErrPasskeyChallenge
		}
		if err != nil {
			return fmt.Errorf("take webauthn challenge: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.ExpiresAt, c.CreatedAt = c.ExpiresAt.UTC(), c.CreatedAt.UTC()
	return &c, nil
}

// AddPasskey stores a new credential and queues the mail.
func (db *DB) AddPasskey(ctx context.Context, p *domain.Passkey, mail ...*domain.OutboundEmail) error {
	now := db.Now()
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := insertPasskeyRow(ctx, tx, p, now); err != nil {
			return err
		}
		return db.enqueueEmails(ctx, tx, mail...)
	})
}

// insertPasskeyRow inserts p (setting ID, CreatedAt and Transports).
func insertPasskeyRow(ctx context.Context, tx *sqlx.Tx, p *domain.Passkey, now time.Time) error {
	transports := p.Transports
	if transports == nil {
		transports = []string{}
	}
	tj, err := json.Marshal(transports)
	if err != nil {
		return fmt.Errorf("passkey transports: %w", err)
	}
	err = tx.QueryRowxContext(ctx, tx.Rebind(insertPasskey), p.UserID, p.CredentialID, p.PublicKey, int64(p.SignCount),
		string(tj), p.AAGUID, p.BackupEligible, p.BackupState, p.UserVerified, p.Name, now).Scan(&p.ID)
	switch {
	case isUniqueViolation(err):
		return domain.ErrPasskeyExists
	case isForeignKeyViolation(err):
		return userNotFound(err)
	case err != nil:
		return fmt.Errorf("add passkey: %w", err)
	}
	p.CreatedAt, p.Transports = now, transports
	return nil
}

// ReserveUserID takes a user id no account has or will be given by an
// insert without one: a passkey sign-up's user handle, known before its
// account exists. An id reserved and never used is a gap.
func (db *DB) ReserveUserID(ctx context.Context) (int64, error) {
	var id int64
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if db.Dialect == Postgres {
			return tx.GetContext(ctx, &id, `SELECT nextval(pg_get_serial_sequence('users', 'id'))`)
		}
		// users.id is AUTOINCREMENT: its counter is sqlite_sequence's row,
		// which a plain insert then moves past.
		if _, err := tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq)
			SELECT 'users', COALESCE((SELECT MAX(id) FROM users), 0) WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users')`); err != nil {
			return err
		}
		return tx.GetContext(ctx, &id, `UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'users' RETURNING seq`)
	})
	if err != nil {
		return 0, mapError(fmt.Errorf("reserve user id: %w", err))
	}
	return id, nil
}

// RegisterPasskeyUser creates u with the id ReserveUserID gave (no
// password: domain.NoPassword) together with its first passkey k, the
// email's verification (verify, when not nil) and mail: one transaction, so
// no account exists without its passkey. ErrUsernameTaken, ErrEmailTaken,
// ErrPasskeyExists.
func (db *DB) RegisterPasskeyUser(ctx context.Context, u *domain.User, k *domain.Passkey, verify *domain.EmailVerification,
	mail ...*domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := db.registerUser(ctx, tx, u, verify, mail...); err != nil {
			return err
		}
		k.UserID = u.ID
		return insertPasskeyRow(ctx, tx, k, u.CreatedAt)
	})
}

// Passkeys lists the user's credentials, oldest first.
func (db *DB) Passkeys(ctx context.Context, userID int64) (_ []*domain.Passkey, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var rows []passkeyRow
	q := `SELECT ` + passkeyColumns + ` FROM webauthn_credentials WHERE user_id = ? ORDER BY id`
	if err := db.pool.SelectContext(ctx, &rows, db.pool.Rebind(q), userID); err != nil {
		return nil, mapError(fmt.Errorf("passkeys: %w", err))
	}
	out := make([]*domain.Passkey, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].passkey())
	}
	return out, nil
}

// PasskeyByCredentialID returns the credential; ErrPasskeyNotFound.
func (db *DB) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (_ *domain.Passkey, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var row passkeyRow
	q := `SELECT ` + passkeyColumns + ` FROM webauthn_credentials WHERE credential_id = ?`
	err = db.pool.GetContext(ctx, &row, db.pool.Rebind(q), credentialID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.ErrPasskeyNotFound
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("passkey: %w", err))
	}
	return row.passkey(), nil
}

// UsePasskey records a sign-in with the credential; ErrPasskeySignCount when
// the count did not grow, ErrPasskeyNotFound when it is gone.
func (db *DB) UsePasskey(ctx context.Context, id int64, signCount uint32, backupState bool) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		n := int64(signCount)
		res, err := tx.ExecContext(ctx, tx.Rebind(usePasskey), n, backupState, db.Now(), id, n, n)
		if err != nil {
			return fmt.Errorf("use passkey: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			return nil
		}
		var exists int
		err = tx.GetContext(ctx, &exists, tx.Rebind(`SELECT COUNT(*) FROM webauthn_credentials WHERE id = ?`), id)
		if err != nil {
			return fmt.Errorf("use passkey: %w", err)
		}
		if exists == 0 {
			return domain.ErrPasskeyNotFound
		}
		return domain.ErrPasskeySignCount
	})
}

// RenamePasskey renames the user's credential; ErrPasskeyNotFound.
func (db *DB) RenamePasskey(ctx context.Context, userID, id int64, name string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE webauthn_credentials SET name = ? WHERE id = ? AND user_id = ?`), name, id, userID)
		if err != nil {
			return fmt.Errorf("rename passkey: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrPasskeyNotFound
		}
		return nil
	})
}

// DeletePasskey deletes the user's credential and queues the mail;
// ErrPasskeyNotFound. Unless allowLast, the deleting statement itself
// keeps the account's last way to sign in (ErrLastSignInMethod), under the
// user's row lock, so that two concurrent deletes of an account's last two
// passkeys cannot each see the other one still there.
func (db *DB) DeletePasskey(ctx context.Context, userID, id int64, allowLast bool, mail ...*domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockUser(ctx, tx, db.Dialect, userID); err != nil {
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				return domain.ErrPasskeyNotFound
			}
			return err
		}
		q := `DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ?`
		if !allowLast {
			q += ` AND ` + signInRemains("webauthn_credentials.user_id", "webauthn_credentials.id", "0")
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(q), id, userID)
		if err != nil {
			return fmt.Errorf("delete passkey: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists int
			err := tx.GetContext(ctx, &exists, tx.Rebind(`SELECT COUNT(*) FROM webauthn_credentials WHERE id = ? AND user_id = ?`), id, userID)
			switch {
			case err != nil:
				return fmt.Errorf("delete passkey: %w", err)
			case exists == 0:
				return domain.ErrPasskeyNotFound
			}
			return domain.ErrLastSignInMethod
		}
		return db.enqueueEmails(ctx, tx, mail...)
	})
}
