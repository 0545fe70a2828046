package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

var _ domain.OIDCClientStore = (*DB)(nil)

const oidcClientColumns = `id, name, secret_hash, public, first_party, redirect_uris, post_logout_redirect_uris,
	grants, scopes, id_token_alg, created_at, updated_at`

// oidcClientRow is an oidc_clients row as scanned; the lists are JSON text.
type oidcClientRow struct {
	ID         string         `db:"id"`
	Name       string         `db:"name"`
	SecretHash sql.NullString `db:"secret_hash"`
	Public     bool           `db:"public"`
	FirstParty bool           `db:"first_party"`
	Redirects  string         `db:"redirect_uris"`
	PostLogout string         `db:"post_logout_redirect_uris"`
	Grants     string         `db:"grants"`
	Scopes     string         `db:"scopes"`
	IDTokenAlg string         `db:"id_token_alg"`
	CreatedAt  time.Time      `db:"created_at"`
	UpdatedAt  time.Time      `db:"updated_at"`
}

func (r *oidcClientRow) client() (*domain.OIDCClient, error) {
	c := &domain.OIDCClient{ID: r.ID, Name: r.Name, SecretHash: r.SecretHash.String, Public: r.Public,
		FirstParty: r.FirstParty, IDTokenAlg: r.IDTokenAlg, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	for _, f := range []struct {
		text string
		into *[]string
	}{{r.Redirects, &c.RedirectURIs}, {r.PostLogout, &c.PostLogoutRedirectURIs}, {r.Grants, &c.Grants}, {r.Scopes, &c.Scopes}} {
		if err := json.Unmarshal([]byte(f.text), f.into); err != nil {
			return nil, fmt.Errorf("oidc client %s: %w", r.ID, err)
		}
	}
	return c, nil
}

// jsonList is a list as the JSON text the table keeps ("[]" for none).
func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// CreateOIDCClient implements domain.OIDCClientStore.
func (db *DB) CreateOIDCClient(ctx context.Context, c *domain.OIDCClient) error {
	var secret any
	if c.SecretHash != "" {
		secret = c.SecretHash
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO oidc_clients (`+oidcClientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			c.ID, c.Name, secret, c.Public, c.FirstParty, jsonList(c.RedirectURIs), jsonList(c.PostLogoutRedirectURIs),
			jsonList(c.Grants), jsonList(c.Scopes), c.IDTokenAlg, c.CreatedAt.UTC(), c.UpdatedAt.UTC())
		if err != nil {
			return fmt.Errorf("insert oidc client: %w", err)
		}
		return nil
	})
}

// OIDCClients implements domain.OIDCClientStore.
func (db *DB) OIDCClients(ctx context.Context) (_ []*domain.OIDCClient, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var rows []oidcClientRow
	if err := sqlx.SelectContext(ctx, db.pool, &rows, `SELECT `+oidcClientColumns+` FROM oidc_clients ORDER BY created_at, id`); err != nil {
		return nil, mapError(fmt.Errorf("list oidc clients: %w", err))
	}
	out := make([]*domain.OIDCClient, 0, len(rows))
	for i := range rows {
		c, err := rows[i].client()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// OIDCClient implements domain.OIDCClientStore.
func (db *DB) OIDCClient(ctx context.Context, id string) (_ *domain.OIDCClient, err error) {
	if !storable(id) {
		return nil, domain.ErrOIDCClientNotFound
	}
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var row oidcClientRow
	err = sqlx.GetContext(ctx, db.pool, &row, db.pool.Rebind(`SELECT `+oidcClientColumns+` FROM oidc_clients WHERE id = ?`), id)
	if err != nil {
		if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
			return nil, domain.ErrOIDCClientNotFound.With(err)
		}
		return nil, mapError(fmt.Errorf("read oidc client: %w", err))
	}
	return row.client()
}

// DeleteOIDCClient implements domain.OIDCClientStore.
func (db *DB) DeleteOIDCClient(ctx context.Context, id string) error {
	return db.changeOIDCClient(ctx, `DELETE FROM oidc_clients WHERE id = ?`, id)
}

// SetOIDCClientSecret implements domain.OIDCClientStore.
func (db *DB) SetOIDCClientSecret(ctx context.Context, id, secretHash string, now time.Time) error {
	return db.changeOIDCClient(ctx, `UPDATE oidc_clients SET secret_hash = ?, updated_at = ? WHERE id = ?`, secretHash, now.UTC(), id)
}

// changeOIDCClient runs one statement on one client (its id the last
// argument) with the audit events of ctx; ErrOIDCClientNotFound when no row
// changed.
func (db *DB) changeOIDCClient(ctx context.Context, query string, args ...any) error {
	if !storable(args[len(args)-1].(string)) {
		return domain.ErrOIDCClientNotFound
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(query), args...)
		if err != nil {
			return fmt.Errorf("change oidc client: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return domain.ErrOIDCClientNotFound
		}
		return nil
	})
}
