package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

var _ domain.APIKeyStore = (*DB)(nil)

const apiKeyColumns = `k.id, k.user_id, k.name, k.shown, k.key_hash, k.scopes, k.token_version, k.created_at,
	k.expires_at, k.last_used_at, k.rate_limit_per_minute, k.spend_limit, k.spend_period, k.revoked_at`

// apiKeyRow is an api_keys row as scanned; scopes is its JSON text.
type apiKeyRow struct {
	ID           string     `db:"id"`
	UserID       int64      `db:"user_id"`
	Name         string     `db:"name"`
	Shown        string     `db:"shown"`
	Hash         string     `db:"key_hash"`
	Scopes       string     `db:"scopes"`
	TokenVersion int64      `db:"token_version"`
	CreatedAt    time.Time  `db:"created_at"`
	ExpiresAt    *time.Time `db:"expires_at"`
	LastUsedAt   *time.Time `db:"last_used_at"`
	RateLimit    *int       `db:"rate_limit_per_minute"`
	SpendLimit   *int64     `db:"spend_limit"`
	SpendPeriod  *string    `db:"spend_period"`
	RevokedAt    *time.Time `db:"revoked_at"`
}

func (r *apiKeyRow) key() (*domain.APIKey, error) {
	k := &domain.APIKey{ID: r.ID, UserID: r.UserID, Name: r.Name, Shown: r.Shown, Hash: r.Hash,
		TokenVersion: r.TokenVersion, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: utcTime(r.ExpiresAt), LastUsedAt: utcTime(r.LastUsedAt),
		RateLimitPerMinute: r.RateLimit, RevokedAt: utcTime(r.RevokedAt)}
	if r.SpendLimit != nil && r.SpendPeriod != nil {
		k.SpendLimit = &domain.SpendLimit{Amount: domain.Cents(*r.SpendLimit), Period: *r.SpendPeriod}
	}
	if err := json.Unmarshal([]byte(r.Scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("api key %s scopes: %w", r.ID, err)
	}
	return k, nil
}

// utcTime is t in UTC; nil stays nil.
func utcTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateAPIKey inserts k, the audit events of ctx and mail in one
// transaction; ENOTFOUND when the user is gone.
func (db *DB) CreateAPIKey(ctx context.Context, k *domain.APIKey, mail ...*domain.OutboundEmail) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return err
	}
	var spend, period any
	if k.SpendLimit != nil {
		spend, period = int64(k.SpendLimit.Amount), k.SpendLimit.Period
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO api_keys
			(id, user_id, name, shown, key_hash, scopes, token_version, created_at, expires_at,
			 rate_limit_per_minute, spend_limit, spend_period)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			k.ID, k.UserID, k.Name, k.Shown, k.Hash, string(scopes), k.TokenVersion, k.CreatedAt.UTC(), utcPtr(k.ExpiresAt),
			k.RateLimitPerMinute, spend, period)
		if err != nil {
			if isForeignKeyViolation(err) {
				return userNotFound(err)
			}
			return fmt.Errorf("insert api key: %w", err)
		}
		return db.enqueueEmails(ctx, tx, mail...)
	})
}

// APIKeys lists the user's keys that are not revoked, newest first.
func (db *DB) APIKeys(ctx context.Context, userID int64) (_ []*domain.APIKey, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var rows []apiKeyRow
	err = sqlx.SelectContext(ctx, db.pool, &rows, db.pool.Rebind(`SELECT `+apiKeyColumns+` FROM api_keys k
		WHERE k.user_id = ? AND k.revoked_at IS NULL ORDER BY k.created_at DESC, k.id`), userID)
	if err != nil {
		return nil, mapError(fmt.Errorf("list api keys: %w", err))
	}
	keys := make([]*domain.APIKey, 0, len(rows))
	for i := range rows {
		k, err := rows[i].key()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// APIKey returns the user's live key id; ErrAPIKeyNotFound when the user
// has no such live key (another user's key is not found either).
func (db *DB) APIKey(ctx context.Context, userID int64, id string) (_ *domain.APIKey, err error) {
	if !storable(id) {
		return nil, domain.ErrAPIKeyNotFound
	}
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var row apiKeyRow
	err = sqlx.GetContext(ctx, db.pool, &row, db.pool.Rebind(`SELECT `+apiKeyColumns+` FROM api_keys k
		WHERE k.id = ? AND k.user_id = ? AND k.revoked_at IS NULL`), id, userID)
	if err != nil {
		if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
			return nil, domain.ErrAPIKeyNotFound.With(err)
		}
		return nil, mapError(fmt.Errorf("read api key: %w", err))
	}
	return row.key()
}

// RevokeAPIKey marks the user's live key id revoked, with the audit events
// of ctx and mail, in one transaction; ErrAPIKeyNotFound when the user has
// no such live key (another user's key is not found either).
func (db *DB) RevokeAPIKey(ctx context.Context, userID int64, id string, mail ...*domain.OutboundEmail) error {
	if !storable(id) {
		return domain.ErrAPIKeyNotFound
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE api_keys SET revoked_at = ?
			WHERE id = ? AND user_id = ? AND revoked_at IS NULL`), db.Now(), id, userID)
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return domain.ErrAPIKeyNotFound
		}
		return db.enqueueEmails(ctx, tx, mail...)
	})
}

// APIKeyByHash returns the key with the hash (revoked ones too: RevokedAt
// set) and its user, in one query on the unique key_hash index; ENOTFOUND
// when there is none.
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (_ *domain.APIKey, _ *domain.User, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var row struct {
		apiKeyRow
		domain.User
	}
	err = db.queryRow(ctx, `SELECT `+apiKeyColumns+`, `+userColumns+`
		FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?`, hash).Scan(
		&row.apiKeyRow.ID, &row.apiKeyRow.UserID, &row.Name, &row.Shown, &row.Hash, &row.Scopes, &row.apiKeyRow.TokenVersion,
		&row.apiKeyRow.CreatedAt, &row.ExpiresAt, &row.LastUsedAt, &row.RateLimit, &row.SpendLimit, &row.SpendPeriod, &row.RevokedAt,
		&row.User.ID, &row.Username, &row.Email, &row.PasswordHash, &row.IsAdmin, &row.User.TokenVersion,
		&row.User.CreatedAt, &row.UpdatedAt, &row.EmailVerifiedAt)
	if err != nil {
		if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
			return nil, nil, domain.ErrAPIKeyNotFound.With(err)
		}
		return nil, nil, mapError(fmt.Errorf("look up api key: %w", err))
	}
	k, err := row.apiKeyRow.key()
	if err != nil {
		return nil, nil, err
	}
	return k, normalizeUser(&row.User), nil
}

// TouchAPIKey sets the key's last_used_at to at, unless it is already as
// recent; the service calls it at most once a minute per key.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) (err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	_, err = db.pool.ExecContext(ctx, db.pool.Rebind(`UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`), at.UTC(), id, at.UTC())
	if err != nil {
		return mapError(fmt.Errorf("touch api key: %w", err))
	}
	return nil
}

// ReserveAPIKeySpend implements domain.APIKeyStore: the charge's reference
// and the period's running total in one transaction; the total's upsert
// refuses to pass the limit, so concurrent charges cannot overspend.
func (db *DB) ReserveAPIKeySpend(ctx context.Context, k *domain.APIKey, reference string, amount domain.Cents,
	periodStart time.Time) (repeat bool, err error) {
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO api_key_charges (key_id, reference_id, amount, period_start)
			VALUES (?, ?, ?, ?) ON CONFLICT (key_id, reference_id) DO NOTHING`), k.ID, reference, int64(amount), periodStart.UTC())
		if err != nil {
			return fmt.Errorf("record api key charge: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			repeat = true
			return nil
		}
		res, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO api_key_spend (key_id, period_start, spent) VALUES (?, ?, ?)
			ON CONFLICT (key_id, period_start) DO UPDATE SET spent = api_key_spend.spent + excluded.spent
			WHERE api_key_spend.spent + excluded.spent <= ?`),
			k.ID, periodStart.UTC(), int64(amount), int64(k.SpendLimit.Amount))
		if err != nil {
			return fmt.Errorf("count api key spend: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 || amount > k.SpendLimit.Amount {
			return domain.ErrSpendLimit
		}
		return nil
	})
	return repeat, err
}

// ReleaseAPIKeySpend implements domain.APIKeyStore.
func (db *DB) ReleaseAPIKeySpend(ctx context.Context, k *domain.APIKey, reference string, amount domain.Cents,
	periodStart time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM api_key_charges WHERE key_id = ? AND reference_id = ?`), k.ID, reference)
		if err != nil {
			return fmt.Errorf("release api key charge: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE api_key_spend SET spent = spent - ? WHERE key_id = ? AND period_start = ?`),
			int64(amount), k.ID, periodStart.UTC())
		if err != nil {
			return fmt.Errorf("release api key spend: %w", err)
		}
		return nil
	})
}
