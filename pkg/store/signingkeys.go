package store

import (
	"context"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

var _ domain.SigningKeyStore = (*DB)(nil)

const (
	signingKeyColumns = `kid, alg, state, public_key, private_key_sealed, created_at, activated_at, retired_at, verify_until`

	sqlInsertSigningKey = `INSERT INTO signing_keys (` + signingKeyColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlSigningKeys = `SELECT ` + signingKeyColumns + ` FROM signing_keys ORDER BY created_at, kid`
	sqlSigningKey  = `SELECT ` + signingKeyColumns + ` FROM signing_keys WHERE kid = ?`
	sqlKeyState    = `SELECT state FROM signing_keys WHERE kid = ?`
	// The active key is retired first: the partial unique index allows one
	// active row at a time.
	sqlRetireActive = `UPDATE signing_keys SET state = 'retired', retired_at = ?, verify_until = ?
		WHERE state = 'active'`
	sqlActivate = `UPDATE signing_keys SET state = 'active', activated_at = ? WHERE kid = ? AND state = 'next'`
	sqlRetire   = `UPDATE signing_keys SET state = 'retired', retired_at = COALESCE(retired_at, ?), verify_until = ?
		WHERE kid = ? AND state = ?`
)

// errKeyState is returned when a key is not in the state a change needs.
func errKeyState(kid string, state domain.KeyState) error {
	return domain.ErrKeyState.With(fmt.Errorf("signing key %s is %s", kid, state))
}

// CreateSigningKey stores a new signing key. ECONFLICT when the kid exists.
func (db *DB) CreateSigningKey(ctx context.Context, k *domain.SigningKey) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(sqlInsertSigningKey), k.KID, k.Alg, string(k.State),
			k.PublicKey, k.PrivateKey, k.CreatedAt.UTC(), utcPtr(k.ActivatedAt), utcPtr(k.RetiredAt), utcPtr(k.VerifyUntil))
		if err != nil {
			return fmt.Errorf("insert signing key: %w", err)
		}
		return nil
	})
}

// SigningKeys returns every signing key, oldest first. It is the one query
// each replica's key refresh runs.
func (db *DB) SigningKeys(ctx context.Context) (_ []domain.SigningKey, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	keys := []domain.SigningKey{}
	if err := sqlx.SelectContext(ctx, db.pool, &keys, db.pool.Rebind(sqlSigningKeys)); err != nil {
		return nil, mapError(fmt.Errorf("list signing keys: %w", err))
	}
	for i := range keys {
		normalizeKeyTimes(&keys[i])
	}
	return keys, nil
}

// SigningKey returns the key kid. ENOTFOUND when there is none.
func (db *DB) SigningKey(ctx context.Context, kid string) (_ *domain.SigningKey, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var k domain.SigningKey
	if err := sqlx.GetContext(ctx, db.pool, &k, db.pool.Rebind(sqlSigningKey), kid); err != nil {
		return nil, mapError(fmt.Errorf("get signing key: %w", err))
	}
	normalizeKeyTimes(&k)
	return &k, nil
}

// ActivateSigningKey makes the next key kid the active one and retires the
// previously active key with VerifyUntil previousUntil, in one transaction.
// ENOTFOUND when kid does not exist; ECONFLICT (Reason "key_state") when it
// is not a next key.
func (db *DB) ActivateSigningKey(ctx context.Context, kid string, at, previousUntil time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		state, err := keyState(ctx, tx, kid)
		if err != nil {
			return err
		}
		if state != domain.KeyNext {
			return errKeyState(kid, state)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(sqlRetireActive), at.UTC(), previousUntil.UTC()); err != nil {
			return fmt.Errorf("retire active signing key: %w", err)
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(sqlActivate), at.UTC(), kid)
		if err != nil {
			return fmt.Errorf("activate signing key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errKeyState(kid, state)
		}
		return nil
	})
}

// RetireSigningKey retires key kid at at with VerifyUntil until, provided
// it is still in state from. ENOTFOUND when kid does not exist; ECONFLICT
// (Reason "key_state") when its state is another.
func (db *DB) RetireSigningKey(ctx context.Context, kid string, from domain.KeyState, at, until time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		state, err := keyState(ctx, tx, kid)
		if err != nil {
			return err
		}
		if state != from {
			return errKeyState(kid, state)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(sqlRetire), at.UTC(), until.UTC(), kid, string(from)); err != nil {
			return fmt.Errorf("retire signing key: %w", err)
		}
		return nil
	})
}

// keyState reads a key's state inside tx, locking the row on PostgreSQL.
func keyState(ctx context.Context, tx *sqlx.Tx, kid string) (domain.KeyState, error) {
	q := sqlKeyState
	if tx.DriverName() == "postgres" {
		q += " FOR UPDATE"
	}
	var state string
	if err := tx.GetContext(ctx, &state, tx.Rebind(q), kid); err != nil {
		return "", fmt.Errorf("read signing key state: %w", err)
	}
	return domain.KeyState(state), nil
}

func utcPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func normalizeKeyTimes(k *domain.SigningKey) {
	k.CreatedAt = k.CreatedAt.UTC()
	for _, p := range []**time.Time{&k.ActivatedAt, &k.RetiredAt, &k.VerifyUntil} {
		if *p != nil {
			t := (**p).UTC()
			*p = &t
		}
	}
}
