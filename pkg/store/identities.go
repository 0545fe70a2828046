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

var _ domain.FederationStore = (*DB)(nil)

const (
	identityColumns = `id, user_id, provider, subject, email, email_verified, created_at, last_used_at`
	insertIdentity  = `INSERT INTO user_identities (user_id, provider, subject, email, email_verified, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`
	insertFederationFlow = `INSERT INTO federation_flows (state_hash, provider, nonce, pkce_verifier, redirect_to, code_challenge,
		link_user_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// takeFederationFlow and takeFederationCode delete and return in one
	// statement: of any number of concurrent callbacks (or exchanges) exactly
	// one gets the row.
	takeFederationFlow = `DELETE FROM federation_flows WHERE state_hash = ? AND expires_at > ?
		RETURNING state_hash, provider, nonce, pkce_verifier, redirect_to, code_challenge, COALESCE(link_user_id, 0) AS link_user_id,
		expires_at, created_at`
	takeFederationCode = `DELETE FROM federation_codes WHERE code_hash = ? AND expires_at > ?
		RETURNING code_challenge, COALESCE(link_user_id, 0) AS link_user_id, identity, expires_at, created_at`
)

// The flows, codes and an identity's use are single statements outside
// any transaction (one round trip each); taking a flow or a code deletes it
// in the statement that returns it, so of concurrent takers one gets it.

// PutFederationFlow stores a flow at a provider.
func (db *DB) PutFederationFlow(ctx context.Context, f *domain.FederationFlow) (err error) {
	var link any
	if f.LinkUserID != 0 {
		link = f.LinkUserID
	}
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	_, err = db.pool.ExecContext(ctx, db.pool.Rebind(insertFederationFlow), f.StateHash, f.Provider, f.Nonce, f.Verifier,
		f.RedirectTo, f.CodeChallenge, link, f.ExpiresAt.UTC(), f.CreatedAt.UTC())
	switch {
	case isForeignKeyViolation(err):
		return userNotFound(err)
	case err != nil:
		return mapError(fmt.Errorf("put federation flow: %w", err))
	}
	return nil
}

// TakeFederationFlow deletes and returns the unexpired flow;
// ErrFederationState when there is none.
func (db *DB) TakeFederationFlow(ctx context.Context, stateHash string) (_ *domain.FederationFlow, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var f domain.FederationFlow
	err = db.pool.GetContext(ctx, &f, db.pool.Rebind(takeFederationFlow), stateHash, db.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.ErrFederationState
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("take federation flow: %w", err))
	}
	f.ExpiresAt, f.CreatedAt = f.ExpiresAt.UTC(), f.CreatedAt.UTC()
	return &f, nil
}

// PutFederationCode stores a verified sign-in's one-time code.
func (db *DB) PutFederationCode(ctx context.Context, c *domain.FederationCode) (err error) {
	ident, err := json.Marshal(c.Identity)
	if err != nil {
		return fmt.Errorf("federation code identity: %w", err)
	}
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var link any
	if c.LinkUserID != 0 {
		link = c.LinkUserID
	}
	_, err = db.pool.ExecContext(ctx, db.pool.Rebind(`INSERT INTO federation_codes (code_hash, code_challenge, link_user_id,
		identity, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`), c.CodeHash, c.CodeChallenge, link, string(ident),
		c.ExpiresAt.UTC(), c.CreatedAt.UTC())
	if isForeignKeyViolation(err) {
		return userNotFound(err)
	}
	if err != nil {
		return mapError(fmt.Errorf("put federation code: %w", err))
	}
	return nil
}

// TakeFederationCode deletes and returns the unexpired code;
// ErrFederationCode when there is none.
func (db *DB) TakeFederationCode(ctx context.Context, codeHash string) (_ *domain.FederationCode, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var row struct {
		CodeChallenge string    `db:"code_challenge"`
		LinkUserID    int64     `db:"link_user_id"`
		Identity      string    `db:"identity"`
		ExpiresAt     time.Time `db:"expires_at"`
		CreatedAt     time.Time `db:"created_at"`
	}
	err = db.pool.GetContext(ctx, &row, db.pool.Rebind(takeFederationCode), codeHash, db.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.ErrFederationCode
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("take federation code: %w", err))
	}
	c := &domain.FederationCode{CodeHash: codeHash, CodeChallenge: row.CodeChallenge, LinkUserID: row.LinkUserID,
		ExpiresAt: row.ExpiresAt.UTC(),
		CreatedAt: row.CreatedAt.UTC()}
	if err := json.Unmarshal([]byte(row.Identity), &c.Identity); err != nil {
		return nil, fmt.Errorf("federation code identity: %w", err)
	}
	return c, nil
}

func normalizeIdentity(i *domain.Identity) *domain.Identity {
	i.CreatedAt, i.LastUsedAt = i.CreatedAt.UTC(), i.LastUsedAt.UTC()
	return i
}

// IdentityBySubject returns the identity; ErrIdentityNotFound.
func (db *DB) IdentityBySubject(ctx context.Context, provider, subject string) (_ *domain.Identity, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var i domain.Identity
	q := `SELECT ` + identityColumns + ` FROM user_identities WHERE provider = ? AND subject = ?`
	err = db.pool.GetContext(ctx, &i, db.pool.Rebind(q), provider, subject)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.ErrIdentityNotFound
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("identity: %w", err))
	}
	return normalizeIdentity(&i), nil
}

// Identities lists the user's identities, oldest first.
func (db *DB) Identities(ctx context.Context, userID int64) (_ []*domain.Identity, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var rows []*domain.Identity
	q := `SELECT ` + identityColumns + ` FROM user_identities WHERE user_id = ? ORDER BY id`
	if err := db.pool.SelectContext(ctx, &rows, db.pool.Rebind(q), userID); err != nil {
		return nil, mapError(fmt.Errorf("identities: %w", err))
	}
	for _, i := range rows {
		normalizeIdentity(i)
	}
	if rows == nil {
		rows = []*domain.Identity{}
	}
	return rows, nil
}

// LinkIdentity stores a new identity of i.UserID.
func (db *DB) LinkIdentity(ctx context.Context, i *domain.Identity) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error { return db.linkIdentity(ctx, tx, i) })
}

func (db *DB) linkIdentity(ctx context.Context, tx *sqlx.Tx, i *domain.Identity) error {
	now := db.Now()
	err := tx.QueryRowxContext(ctx, tx.Rebind(insertIdentity), i.UserID, i.Provider, i.Subject, i.Email, i.EmailVerified,
		now, now).Scan(&i.ID)
	switch {
	case isUniqueViolation(err):
		return domain.ErrIdentityTaken.With(err)
	case isForeignKeyViolation(err):
		return userNotFound(err)
	case err != nil:
		return fmt.Errorf("link identity: %w", err)
	}
	i.CreatedAt, i.LastUsedAt = now, now
	return nil
}

// UseIdentity records a sign-in with the provider's subject and returns
// its user: last used now, and the email when the provider verified it.
func (db *DB) UseIdentity(ctx context.Context, x domain.ExternalIdentity) (_ int64, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var userID int64
	err = db.pool.GetContext(ctx, &userID, db.pool.Rebind(`UPDATE user_identities SET last_used_at = ?,
		email = CASE WHEN ? THEN ? ELSE email END, email_verified = (email_verified OR ?)
		WHERE provider = ? AND subject = ? RETURNING user_id`),
		db.Now(), x.EmailVerified, x.Email, x.EmailVerified, x.Provider, x.Subject)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, domain.ErrIdentityNotFound
	}
	if err != nil {
		return 0, mapError(fmt.Errorf("use identity: %w", err))
	}
	return userID, nil
}

// UnlinkIdentity deletes the user's identity unless the user could not sign
// in without it; the check is part of the DELETE, so two concurrent unlinks
// of an account's last two ways to sign in cannot both succeed: the user's
// row is locked first (lockUser), as every removal of a way to sign in does.
func (db *DB) UnlinkIdentity(ctx context.Context, userID, id int64) (*domain.Identity, error) {
	var i domain.Identity
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockUser(ctx, tx, db.Dialect, userID); err != nil {
			return err
		}
		err := tx.GetContext(ctx, &i, tx.Rebind(`DELETE FROM user_identities WHERE id = ? AND user_id = ? AND `+
			signInRemains("user_identities.user_id", "0", "user_identities.id")+` RETURNING `+identityColumns), id, userID)
		if !errors.Is(err, sql.ErrNoRows) {
			if err != nil {
				return fmt.Errorf("unlink identity: %w", err)
			}
			return nil
		}
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM user_identities WHERE id = ? AND user_id = ?`), id, userID); err != nil {
			return fmt.Errorf("unlink identity: %w", err)
		}
		if n == 0 {
			return domain.ErrIdentityNotFound
		}
		return domain.ErrLastSignInMethod
	})
	if err != nil {
		return nil, err
	}
	return normalizeIdentity(&i), nil
}

// CreateFederatedUser creates u and links i to it in one transaction.
func (db *DB) CreateFederatedUser(ctx context.Context, u *domain.User, i *domain.Identity, verify *domain.EmailVerification,
	mail ...*domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := db.registerUser(ctx, tx, u, verify, mail...); err != nil {
			return err
		}
		i.UserID = u.ID
		return db.linkIdentity(ctx, tx, i)
	})
}
