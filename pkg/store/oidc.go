package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authsvc/authsvc/pkg/domain"
)

var _ domain.OIDCStore = (*DB)(nil)

const oidcRequestColumns = `r.id, r.client_id, r.redirect_uri, r.state, r.nonce, r.scopes, r.response_type, r.response_mode,
	r.prompt, r.max_age, r.login_hint, r.code_challenge, r.code_challenge_method, r.created_at, r.expires_at,
	r.user_id, r.session_id, r.auth_time, r.amr`

// oidcRequestRow is an oidc_requests row as scanned.
type oidcRequestRow struct {
	ID              string         `db:"id"`
	ClientID        string         `db:"client_id"`
	RedirectURI     string         `db:"redirect_uri"`
	State           string         `db:"state"`
	Nonce           string         `db:"nonce"`
	Scopes          string         `db:"scopes"`
	ResponseType    string         `db:"response_type"`
	ResponseMode    string         `db:"response_mode"`
	Prompt          string         `db:"prompt"`
	MaxAge          sql.NullInt64  `db:"max_age"`
	LoginHint       string         `db:"login_hint"`
	CodeChallenge   string         `db:"code_challenge"`
	ChallengeMethod string         `db:"code_challenge_method"`
	CreatedAt       time.Time      `db:"created_at"`
	ExpiresAt       time.Time      `db:"expires_at"`
	UserID          sql.NullInt64  `db:"user_id"`
	SessionID       sql.NullString `db:"session_id"`
	AuthTime        sql.NullTime   `db:"auth_time"`
	AMR             sql.NullString `db:"amr"`
}

func (r *oidcRequestRow) request() *domain.OIDCRequest {
	out := &domain.OIDCRequest{ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State, Nonce: r.Nonce,
		Scopes: jsonStrings(r.Scopes), ResponseType: r.ResponseType, ResponseMode: r.ResponseMode, Prompt: jsonStrings(r.Prompt),
		LoginHint: r.LoginHint, CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.ChallengeMethod,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), UserID: r.UserID.Int64, SessionID: r.SessionID.String,
		AMR: jsonStrings(r.AMR.String)}
	if r.MaxAge.Valid {
		out.MaxAge = &r.MaxAge.Int64
	}
	if r.AuthTime.Valid {
		out.AuthTime = r.AuthTime.Time.UTC()
	}
	return out
}

// jsonStrings reads a JSON list of strings as the tables keep them; text
// that is not one (never written by this package) reads as none.
func jsonStrings(s string) []string {
	var out []string
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out)
	}
	return out
}

// CreateOIDCRequest implements domain.OIDCStore.
func (db *DB) CreateOIDCRequest(ctx context.Context, r *domain.OIDCRequest) (err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	_, err = db.pool.ExecContext(ctx, db.pool.Rebind(`INSERT INTO oidc_requests (id, client_id, redirect_uri, state, nonce,
		scopes, response_type, response_mode, prompt, max_age, login_hint, code_challenge, code_challenge_method,
		created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.ClientID, r.RedirectURI, r.State, r.Nonce, jsonList(r.Scopes), r.ResponseType, r.ResponseMode,
		jsonList(r.Prompt), r.MaxAge, r.LoginHint, r.CodeChallenge, r.CodeChallengeMethod, r.CreatedAt.UTC(), r.ExpiresAt.UTC())
	if err != nil {
		return mapError(fmt.Errorf("insert oidc request: %w", err))
	}
	return nil
}

// OIDCRequest implements domain.OIDCStore.
func (db *DB) OIDCRequest(ctx context.Context, id string, now time.Time) (_ *domain.OIDCRequest, err error) {
	if !storable(id) {
		return nil, domain.ErrOIDCRequestGone
	}
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var row oidcRequestRow
	err = sqlx.GetContext(ctx, db.pool, &row, db.pool.Rebind(`SELECT `+oidcRequestColumns+` FROM oidc_requests r
		WHERE r.id = ? AND r.expires_at > ? AND r.code_hash IS NULL`), id, now.UTC())
	if err != nil {
		if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
			return nil, domain.ErrOIDCRequestGone
		}
		return nil, mapError(fmt.Errorf("read oidc request: %w", err))
	}
	return row.request(), nil
}

// EndOIDCRequest implements domain.OIDCStore.
func (db *DB) EndOIDCRequest(ctx context.Context, id string, now time.Time) error {
	return db.changeOIDCRequest(ctx, `UPDATE oidc_requests SET expires_at = ? WHERE id = ? AND code_hash IS NULL AND expires_at > ?`,
		now.UTC(), id, now.UTC())
}

// CompleteOIDCRequest implements domain.OIDCStore.
func (db *DB) CompleteOIDCRequest(ctx context.Context, id string, s domain.BrowserSignIn, now time.Time) error {
	return db.changeOIDCRequest(ctx, `UPDATE oidc_requests SET user_id = ?, session_id = ?, auth_time = ?, amr = ?
		WHERE id = ? AND user_id IS NULL AND code_hash IS NULL AND expires_at > ?`,
		s.UserID, s.SessionID, s.AuthTime.UTC(), jsonList(s.AMR), id, now.UTC())
}

// SetOIDCCode implements domain.OIDCStore.
func (db *DB) SetOIDCCode(ctx context.Context, id, codeHash string, expires time.Time) error {
	return db.changeOIDCRequest(ctx, `UPDATE oidc_requests SET code_hash = ?, code_expires_at = ?
		WHERE id = ? AND user_id IS NOT NULL AND code_hash IS NULL`, codeHash, expires.UTC(), id)
}

// changeOIDCRequest runs one statement on one request; ErrOIDCRequestGone
// when it changed no row.
func (db *DB) changeOIDCRequest(ctx context.Context, query string, args ...any) (err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	res, err := db.pool.ExecContext(ctx, db.pool.Rebind(query), args...)
	if err != nil {
		return mapError(fmt.Errorf("change oidc request: %w", err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapError(err)
	} else if n == 0 {
		return domain.ErrOIDCRequestGone
	}
	return nil
}

// oidcUserColumns are the user's fields read with a request or a token.
const oidcUserColumns = `u.username AS u_username, u.email AS u_email, u.email_verified_at AS u_email_verified_at,
	u.token_version AS u_token_version`

type oidcUserRow struct {
	Username        sql.NullString `db:"u_username"`
	Email           sql.NullString `db:"u_email"`
	EmailVerifiedAt sql.NullTime   `db:"u_email_verified_at"`
	TokenVersion    sql.NullInt64  `db:"u_token_version"`
}

func (r *oidcUserRow) user(id int64) *domain.User {
	if !r.Username.Valid {
		return nil
	}
	u := &domain.User{ID: id, Username: r.Username.String, Email: r.Email.String, TokenVersion: r.TokenVersion.Int64}
	if r.EmailVerifiedAt.Valid {
		t := r.EmailVerifiedAt.Time.UTC()
		u.EmailVerifiedAt = &t
	}
	return u
}

// RedeemOIDCCode implements domain.OIDCStore: one statement on PostgreSQL
// (the update and the user's row), an update and a read on SQLite.
func (db *DB) RedeemOIDCCode(ctx context.Context, codeHash string, now time.Time) (_ *domain.OIDCRequest, err error) {
	if !storable(codeHash) {
		return nil, domain.ErrOIDCGrantInvalid
	}
	var row struct {
		oidcRequestRow
		oidcUserRow
	}
	redeem := `UPDATE oidc_requests SET code_used_at = ? WHERE code_hash = ? AND code_used_at IS NULL
		AND code_expires_at > ? RETURNING ` + strings.ReplaceAll(oidcRequestColumns, "r.", "")
	if db.Dialect == Postgres { // one statement: the update and the user's row
		bctx, done := db.start(ctx)
		err = done(mapError(sqlx.GetContext(bctx, db.pool, &row, db.pool.Rebind(`WITH r AS (`+redeem+`)
			SELECT r.*, `+oidcUserColumns+` FROM r JOIN users u ON u.id = r.user_id`), now.UTC(), codeHash, now.UTC())))
	} else {
		err = db.InTx(ctx, func(tx *sqlx.Tx) error {
			if err := sqlx.GetContext(ctx, tx, &row.oidcRequestRow, tx.Rebind(redeem), now.UTC(), codeHash, now.UTC()); err != nil {
				return err
			}
			return sqlx.GetContext(ctx, tx, &row.oidcUserRow, tx.Rebind(`SELECT `+oidcUserColumns+` FROM users u WHERE u.id = ?`),
				row.UserID.Int64)
		})
	}
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, db.replayed(ctx, codeHash, now)
	}
	if err != nil {
		return nil, fmt.Errorf("redeem oidc code: %w", err)
	}
	r := row.request()
	r.User = row.user(r.UserID)
	return r, nil
}

// replayed handles a code that could not be redeemed: if it was redeemed
// before, the request is marked replayed and its tokens revoked (tokens
// inserted later are revoked on insert, see CreateOIDCToken).
func (db *DB) replayed(ctx context.Context, codeHash string, now time.Time) error {
	var id, client string
	err := db.pool.QueryRowxContext(ctx, db.pool.Rebind(`SELECT id, client_id FROM oidc_requests
		WHERE code_hash = ? AND code_used_at IS NOT NULL`), codeHash).Scan(&id, &client)
	if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
		return domain.ErrOIDCGrantInvalid
	} else if err != nil {
		return mapError(fmt.Errorf("read replayed code: %w", err))
	}
	ctx = domain.WithAudit(ctx, &domain.AuditEvent{Event: domain.AuditOIDCCodeReplayed,
		Details: map[string]any{"client_id": client, "request_id": id}})
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE oidc_requests SET replayed_at = ? WHERE id = ?`), now.UTC(), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE oidc_tokens SET revoked_at = ? WHERE request_id = ? AND revoked_at IS NULL`),
			now.UTC(), id)
		return err
	})
	if err != nil {
		return mapError(fmt.Errorf("revoke replayed code's tokens: %w", err))
	}
	return domain.ErrOIDCCodeReplayed
}

// CreateOIDCToken implements domain.OIDCStore. The request row is read
// with a share lock on PostgreSQL so that a concurrent replay of its code
// either sees this token (and revokes it) or is seen by it (and the token
// is stored revoked).
func (db *DB) CreateOIDCToken(ctx context.Context, t *domain.OIDCToken) (err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	lock := ""
	if db.Dialect == Postgres {
		lock = " FOR SHARE"
	}
	args := append(tokenArgs(t), t.RequestID)
	_, err = db.pool.ExecContext(ctx, db.pool.Rebind(`INSERT INTO oidc_tokens (`+oidcTokenInsertColumns+`, revoked_at)
		VALUES (`+oidcTokenPlaceholders+`, (SELECT replayed_at FROM oidc_requests WHERE id = ?`+lock+`))`), args...)
	if err != nil {
		return mapError(fmt.Errorf("insert oidc token: %w", err))
	}
	return nil
}

const (
	oidcTokenInsertColumns = `id, family_id, client_id, user_id, request_id, session_id, scopes, amr, auth_time,
		token_version, expires_at, refresh_hash, refresh_expires_at, created_at, prune_after`
	oidcTokenPlaceholders = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`
)

// tokenArgs are t's values in the order of oidcTokenInsertColumns.
func tokenArgs(t *domain.OIDCToken) []any {
	var user, refresh, refreshExp, authTime, request any
	if t.UserID != 0 {
		user = t.UserID
	}
	prune := t.ExpiresAt
	if t.RefreshHash != "" {
		refresh, refreshExp = t.RefreshHash, t.RefreshExpiresAt.UTC()
		prune = later(prune, t.RefreshExpiresAt)
	}
	if !t.AuthTime.IsZero() {
		authTime = t.AuthTime.UTC()
	}
	if t.RequestID != "" {
		request = t.RequestID
	}
	return []any{t.ID, t.FamilyID, t.ClientID, user, request, t.SessionID, jsonList(t.Scopes), jsonList(t.AMR), authTime,
		t.TokenVersion, t.ExpiresAt.UTC(), refresh, refreshExp, t.CreatedAt.UTC(), prune.UTC()}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

const oidcTokenColumns = `t.id, t.family_id, t.client_id, t.user_id, t.request_id, t.session_id, t.scopes, t.amr,
	t.auth_time, t.token_version, t.expires_at, t.refresh_hash, t.refresh_expires_at, t.refresh_used_at, t.revoked_at,
	t.created_at`

type oidcTokenRow struct {
	ID            string         `db:"id"`
	FamilyID      string         `db:"family_id"`
	ClientID      string         `db:"client_id"`
	UserID        sql.NullInt64  `db:"user_id"`
	RequestID     sql.NullString `db:"request_id"`
	SessionID     string         `db:"session_id"`
	Scopes        string         `db:"scopes"`
	AMR           string         `db:"amr"`
	AuthTime      sql.NullTime   `db:"auth_time"`
	TokenVersion  int64          `db:"token_version"`
	ExpiresAt     time.Time      `db:"expires_at"`
	RefreshHash   sql.NullString `db:"refresh_hash"`
	RefreshExpiry sql.NullTime   `db:"refresh_expires_at"`
	RefreshUsedAt sql.NullTime   `db:"refresh_used_at"`
	RevokedAt     sql.NullTime   `db:"revoked_at"`
	CreatedAt     time.Time      `db:"created_at"`
	oidcUserRow
}

func (r *oidcTokenRow) token() *domain.OIDCToken {
	t := &domain.OIDCToken{ID: r.ID, FamilyID: r.FamilyID, ClientID: r.ClientID, UserID: r.UserID.Int64,
		RequestID: r.RequestID.String, SessionID: r.SessionID, Scopes: jsonStrings(r.Scopes), AMR: jsonStrings(r.AMR),
		TokenVersion: r.TokenVersion, ExpiresAt: r.ExpiresAt.UTC(), RefreshHash: r.RefreshHash.String,
		CreatedAt: r.CreatedAt.UTC()}
	if r.AuthTime.Valid {
		t.AuthTime = r.AuthTime.Time.UTC()
	}
	if r.RefreshExpiry.Valid {
		t.RefreshExpiresAt = r.RefreshExpiry.Time.UTC()
	}
	if t.UserID != 0 {
		t.User = r.user(t.UserID)
	}
	return t
}

// granted reports whether the token's grant still stands: not revoked, and
// its user (if any) has not changed password or logged out everywhere
// since.
func (r *oidcTokenRow) granted() bool {
	if r.RevokedAt.Valid {
		return false
	}
	return !r.UserID.Valid || (r.oidcUserRow.TokenVersion.Valid && r.oidcUserRow.TokenVersion.Int64 == r.TokenVersion)
}

// oidcToken reads one token with its user.
func (db *DB) oidcToken(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (*oidcTokenRow, error) {
	var row oidcTokenRow
	err := sqlx.GetContext(ctx, q, &row, db.pool.Rebind(`SELECT `+oidcTokenColumns+`, `+oidcUserColumns+`
		FROM oidc_tokens t LEFT JOIN users u ON u.id = t.user_id WHERE `+where), args...)
	if err != nil {
		if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
			return nil, domain.ErrOIDCGrantInvalid
		}
		return nil, mapError(fmt.Errorf("read oidc token: %w", err))
	}
	return &row, nil
}

// OIDCTokenByRefresh implements domain.OIDCStore.
func (db *DB) OIDCTokenByRefresh(ctx context.Context, refreshHash string, now time.Time) (_ *domain.OIDCToken, err error) {
	if !storable(refreshHash) {
		return nil, domain.ErrOIDCGrantInvalid
	}
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	row, err := db.oidcToken(ctx, db.pool, `t.refresh_hash = ?`, refreshHash)
	if err != nil {
		return nil, err
	}
	if row.RefreshUsedAt.Valid && !row.RevokedAt.Valid {
		return nil, db.revokeFamily(ctx, row.FamilyID, now)
	}
	if !row.granted() || !row.RefreshExpiry.Valid || !now.Before(row.RefreshExpiry.Time) {
		return nil, domain.ErrOIDCGrantInvalid
	}
	return row.token(), nil
}

// revokeFamily revokes every token of a refresh family whose used refresh
// token was presented again, and returns the error to answer with.
func (db *DB) revokeFamily(ctx context.Context, family string, now time.Time) error {
	ctx = domain.WithAudit(ctx, &domain.AuditEvent{Event: domain.AuditOIDCRefreshReused, Details: map[string]any{"family_id": family}})
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE oidc_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`),
			now.UTC(), family)
		return err
	})
	if err != nil {
		return mapError(fmt.Errorf("revoke refresh family: %w", err))
	}
	return domain.ErrOIDCGrantInvalid
}

// RotateOIDCRefresh implements domain.OIDCStore: one statement on
// PostgreSQL, a transaction of two on SQLite.
func (db *DB) RotateOIDCRefresh(ctx context.Context, refreshHash string, next *domain.OIDCToken, now time.Time) error {
	var family string
	take := `UPDATE oidc_tokens SET refresh_used_at = ? WHERE refresh_hash = ? AND refresh_used_at IS NULL
		AND revoked_at IS NULL RETURNING family_id`
	args := tokenArgs(next)
	var err error
	if db.Dialect == Postgres { // one statement: the new row takes the old one's family
		bctx, done := db.start(ctx)
		err = done(mapError(db.pool.QueryRowxContext(bctx, db.pool.Rebind(`WITH old AS (`+take+`)
			INSERT INTO oidc_tokens (`+oidcTokenInsertColumns+`)
			SELECT ?::text, old.family_id, ?::text, ?::bigint, ?::text, ?::text, ?::text, ?::text, ?::timestamptz,
				?::bigint, ?::timestamptz, ?::text, ?::timestamptz, ?::timestamptz, ?::timestamptz
			FROM old RETURNING family_id`), append([]any{now.UTC(), refreshHash, args[0]}, args[2:]...)...).Scan(&family)))
	} else {
		err = db.InTx(ctx, func(tx *sqlx.Tx) error {
			if err := tx.QueryRowxContext(ctx, tx.Rebind(take), now.UTC(), refreshHash).Scan(&family); err != nil {
				return err
			}
			args[1] = family
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO oidc_tokens (`+oidcTokenInsertColumns+`) VALUES (`+oidcTokenPlaceholders+`)`), args...)
			return err
		})
	}
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		// Used meanwhile by a concurrent refresh: a reuse.
		row, rerr := db.oidcToken(ctx, db.pool, `t.refresh_hash = ?`, refreshHash)
		if rerr != nil {
			return rerr
		}
		return db.revokeFamily(ctx, row.FamilyID, now)
	}
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	next.FamilyID = family
	return nil
}

// OIDCTokenByID implements domain.OIDCStore.
func (db *DB) OIDCTokenByID(ctx context.Context, id string, now time.Time) (_ *domain.OIDCToken, err error) {
	if !storable(id) {
		return nil, domain.ErrOIDCGrantInvalid
	}
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	row, err := db.oidcToken(ctx, db.pool, `t.id = ?`, id)
	if err != nil {
		return nil, err
	}
	if !row.granted() || !now.Before(row.ExpiresAt) {
		return nil, domain.ErrOIDCGrantInvalid
	}
	return row.token(), nil
}

// RevokeOIDCToken implements domain.OIDCStore.
func (db *DB) RevokeOIDCToken(ctx context.Context, id, refreshHash, clientID string, now time.Time) error {
	query, arg := `id = ?`, id
	if refreshHash != "" {
		query, arg = `family_id = (SELECT family_id FROM oidc_tokens WHERE refresh_hash = ?)`, refreshHash
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE oidc_tokens SET revoked_at = ?
			WHERE revoked_at IS NULL AND client_id = ? AND `+query), now.UTC(), clientID, arg)
		return err
	})
}

// OIDCConsentScopes implements domain.OIDCStore.
func (db *DB) OIDCConsentScopes(ctx context.Context, userID int64, clientID string) (_ []string, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var scopes string
	err = db.pool.QueryRowxContext(ctx, db.pool.Rebind(`SELECT scopes FROM oidc_consents WHERE user_id = ? AND client_id = ?`),
		userID, clientID).Scan(&scopes)
	if domain.ErrorCode(mapError(err)) == domain.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, mapError(fmt.Errorf("read consent: %w", err))
	}
	return jsonStrings(scopes), nil
}

// GrantOIDCConsent implements domain.OIDCStore.
func (db *DB) GrantOIDCConsent(ctx context.Context, userID int64, clientID string, scopes []string, now time.Time) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var had string
		err := tx.QueryRowxContext(ctx, tx.Rebind(`SELECT scopes FROM oidc_consents WHERE user_id = ? AND client_id = ?`),
			userID, clientID).Scan(&had)
		if err != nil && domain.ErrorCode(mapError(err)) != domain.ENOTFOUND {
			return err
		}
		all := jsonStrings(had)
		for _, s := range scopes {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO oidc_consents (user_id, client_id, scopes, granted_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes,
			granted_at = excluded.granted_at`), userID, clientID, jsonList(all), now.UTC())
		return err
	})
}

// OIDCConsents implements domain.OIDCStore.
func (db *DB) OIDCConsents(ctx context.Context, userID int64) (_ []domain.OIDCConsent, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var rows []struct {
		ClientID  string    `db:"client_id"`
		Name      string    `db:"name"`
		Scopes    string    `db:"scopes"`
		GrantedAt time.Time `db:"granted_at"`
	}
	err = sqlx.SelectContext(ctx, db.pool, &rows, db.pool.Rebind(`SELECT c.client_id, k.name, c.scopes, c.granted_at
		FROM oidc_consents c JOIN oidc_clients k ON k.id = c.client_id WHERE c.user_id = ? ORDER BY c.granted_at, c.client_id`), userID)
	if err != nil {
		return nil, mapError(fmt.Errorf("list consents: %w", err))
	}
	out := make([]domain.OIDCConsent, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.OIDCConsent{ClientID: r.ClientID, ClientName: r.Name, Scopes: jsonStrings(r.Scopes),
			GrantedAt: r.GrantedAt.UTC()})
	}
	return out, nil
}

// RevokeOIDCConsent implements domain.OIDCStore.
func (db *DB) RevokeOIDCConsent(ctx context.Context, userID int64, clientID string, now time.Time) error {
	if !storable(clientID) {
		return domain.ErrOIDCNoConsent
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM oidc_consents WHERE user_id = ? AND client_id = ?`), userID, clientID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return domain.ErrOIDCNoConsent
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE oidc_tokens SET revoked_at = ? WHERE user_id = ? AND client_id = ?
			AND revoked_at IS NULL`), now.UTC(), userID, clientID)
		return err
	})
}

// oidcReplayWindow is how long a redeemed code's request is kept after
// the code expired, so that a replay still revokes the code's tokens.
const oidcReplayWindow = 24 * time.Hour

// PruneOIDC implements domain.OIDCStore: requests past their expiry (a
// redeemed one a day after its code's), tokens past both their access and
// refresh expiry.
func (db *DB) PruneOIDC(ctx context.Context, now time.Time) (n int64, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM oidc_requests WHERE expires_at < ? AND (code_expires_at IS NULL OR code_expires_at < ?)`,
			[]any{now.UTC(), now.Add(-oidcReplayWindow).UTC()}},
		{`DELETE FROM oidc_tokens WHERE prune_after < ?`, []any{now.UTC()}},
	} {
		res, err := db.pool.ExecContext(ctx, db.pool.Rebind(q.sql), q.args...)
		if err != nil {
			return n, mapError(fmt.Errorf("prune oidc: %w", err))
		}
		m, _ := res.RowsAffected()
		n += m
	}
	return n, nil
}
