package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// A password login takes two round trips on PostgreSQL: BeginLogin counts
// the attempt and reads the user in one statement, FinishLogin writes the
// outcome in another. SQLite runs the same steps in one transaction each,
// in process.

var _ domain.LoginStore = (*DB)(nil)

// sqlCountAttempt counts one login attempt unless the window's limit is
// reached. The conditional upsert locks the row, so concurrent attempts
// are counted one after another and never past the limit. Arguments:
// username, now, cutoff (now - window) three times, limit.
const sqlCountAttempt = `INSERT INTO login_failures (username, window_start, failures) VALUES (?, ?, 1)
	ON CONFLICT (username) DO UPDATE SET
	failures = CASE WHEN login_failures.window_start > ? THEN login_failures.failures + 1 ELSE 1 END,
	window_start = CASE WHEN login_failures.window_start > ? THEN login_failures.window_start ELSE excluded.window_start END
	WHERE login_failures.window_start <= ? OR login_failures.failures < ?
	RETURNING failures, window_start`

// sqlWindowStart reads when the username's window started.
const sqlWindowStart = `SELECT window_start FROM login_failures WHERE username = ?`

// loginUserColumns are the user's columns, whether they have a confirmed
// second factor and whether they have a passkey (one more way to give it).
const loginUserColumns = userColumns + `,
	EXISTS (SELECT 1 FROM mfa_totp m WHERE m.user_id = u.id AND m.confirmed_at IS NOT NULL) AS mfa_enabled,
	EXISTS (SELECT 1 FROM webauthn_credentials w WHERE w.user_id = u.id) AS has_passkeys`

// sqlLoginUser reads the user of a login. Argument: the lowercased username.
const sqlLoginUser = `SELECT ` + loginUserColumns + ` FROM users u WHERE lower(u.username) = ?`

// sqlRelaxedAttempt is sqlCountAttempt on PostgreSQL as one statement that
// commits without waiting for its WAL flush (set_config is local to the
// statement's own transaction), with the count a refused attempt found.
// Further arguments: username. userSelect and userJoin (its arguments
// appended) add the login's user.
func sqlRelaxedAttempt(userSelect, userJoin string) string {
	return `WITH attempt AS (` + sqlCountAttempt + `)
	SELECT a.failures AS counted, a.window_start AS counted_since, f.window_start AS refused_since` + userSelect + `
	FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
	LEFT JOIN attempt a ON true
	LEFT JOIN login_failures f ON a.failures IS NULL AND f.username = ?` + userJoin
}

// Both PostgreSQL statements, built once (they are prepared by their text).
var (
	sqlCountAttemptPostgres = sqlRelaxedAttempt("", "")
	sqlBeginLoginPostgres   = sqlRelaxedAttempt(`, `+loginUserColumns, `
	LEFT JOIN users u ON a.failures IS NOT NULL AND lower(u.username) = ?`)
)

// attemptRow is a row of sqlRelaxedAttempt: Counted is null when the
// attempt was refused; the user columns are null when no user has the name.
type attemptRow struct {
	Counted      sql.NullInt64 `db:"counted"`
	CountedSince sql.NullTime  `db:"counted_since"`
	RefusedSince sql.NullTime  `db:"refused_since"`
	loginUserRow
}

// loginUserRow is a row of sqlLoginUser, every column nullable.
type loginUserRow struct {
	ID              sql.NullInt64  `db:"id"`
	Username        sql.NullString `db:"username"`
	Email           sql.NullString `db:"email"`
	PasswordHash    sql.NullString `db:"password_hash"`
	IsAdmin         sql.NullBool   `db:"is_admin"`
	TokenVersion    sql.NullInt64  `db:"token_version"`
	CreatedAt       sql.NullTime   `db:"created_at"`
	UpdatedAt       sql.NullTime   `db:"updated_at"`
	EmailVerifiedAt sql.NullTime   `db:"email_verified_at"`
	MFAEnabled      sql.NullBool   `db:"mfa_enabled"`
	HasPasskeys     sql.NullBool   `db:"has_passkeys"`
}

// user returns the row's user, or nil when it has none.
func (r *loginUserRow) user() *domain.User {
	if !r.ID.Valid {
		return nil
	}
	u := &domain.User{ID: r.ID.Int64, Username: r.Username.String, Email: r.Email.String,
		PasswordHash: r.PasswordHash.String, IsAdmin: r.IsAdmin.Bool, TokenVersion: r.TokenVersion.Int64,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time}
	if r.EmailVerifiedAt.Valid {
		u.EmailVerifiedAt = &r.EmailVerifiedAt.Time
	}
	return normalizeUser(u)
}

// attempt returns what counting found; now and window place the window of
// a refused attempt whose row the statement could not see (one inserted by
// a concurrent login).
func (r *attemptRow) attempt(now time.Time, window time.Duration) domain.LoginAttempt {
	if r.Counted.Valid {
		return domain.LoginAttempt{Failures: int(r.Counted.Int64), WindowEnd: r.CountedSince.Time.UTC().Add(window)}
	}
	end := now.Add(window)
	if r.RefusedSince.Valid {
		end = r.RefusedSince.Time.UTC().Add(window)
	}
	return domain.LoginAttempt{Refused: true, WindowEnd: end}
}

// CountLoginAttempt counts one login attempt for username (compare it
// lowercased) unless limit attempts are counted in the current window:
// one statement on PostgreSQL, committed without waiting for its WAL flush
// (a crash may lose the last few counts, never money or credentials).
func (db *DB) CountLoginAttempt(ctx context.Context, username string, limit int, window time.Duration) (domain.LoginAttempt, error) {
	start, err := db.beginLogin(ctx, username, limit, window, false)
	if err != nil {
		return domain.LoginAttempt{}, err
	}
	return start.LoginAttempt, nil
}

// BeginLogin counts the attempt and reads the user in one round trip.
func (db *DB) BeginLogin(ctx context.Context, username string, limit int, window time.Duration) (*domain.LoginStart, error) {
	return db.beginLogin(ctx, username, limit, window, true)
}

func (db *DB) beginLogin(ctx context.Context, username string, limit int, window time.Duration, withUser bool) (_ *domain.LoginStart, err error) {
	if !storable(username) { // ValidUsername refuses such names before here
		return nil, domain.ErrInvalidText
	}
	now := db.Now()
	cutoff := now.Add(-window)
	count := []any{username, now, cutoff, cutoff, cutoff, limit}
	var row attemptRow
	if db.Dialect == Postgres {
		ctx, done := db.start(ctx)
		defer func() { err = done(err) }()
		query, args := sqlCountAttemptPostgres, append(count, username)
		if withUser {
			query, args = sqlBeginLoginPostgres, append(args, username)
		}
		if err := db.queryRow(ctx, query, args...).StructScan(&row); err != nil {
			return nil, mapError(fmt.Errorf("count login attempt: %w", err))
		}
		if !row.Counted.Valid && (!row.RefusedSince.Valid || !row.RefusedSince.Time.Add(window).After(now)) {
			// Refused, but the statement's snapshot shows no current window:
			// a concurrent login started one while this one waited on the
			// row. A new statement sees it (a rare third round trip).
			err := db.pool.GetContext(ctx, &row.RefusedSince, db.pool.Rebind(sqlWindowStart), username)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, mapError(fmt.Errorf("read login window: %w", err))
			}
		}
	} else {
		err = db.InTx(ctx, func(tx *sqlx.Tx) error {
			return sqliteBeginLogin(ctx, tx, &row, count, withUser)
		})
		if err != nil {
			return nil, fmt.Errorf("count login attempt: %w", err)
		}
	}
	start := &domain.LoginStart{LoginAttempt: row.attempt(now, window), User: row.user(),
		MFAEnabled: row.MFAEnabled.Bool, HasPasskeys: row.HasPasskeys.Bool}
	return start, nil
}

// sqliteBeginLogin is beginLogin's statement as three in tx (SQLite has no
// INSERT inside WITH).
func sqliteBeginLogin(ctx context.Context, tx *sqlx.Tx, row *attemptRow, count []any, withUser bool) error {
	username := count[0]
	err := tx.QueryRowxContext(ctx, tx.Rebind(sqlCountAttempt), count...).Scan(&row.Counted, &row.CountedSince)
	if errors.Is(err, sql.ErrNoRows) { // refused: when does its window end?
		err = tx.GetContext(ctx, &row.RefusedSince, tx.Rebind(sqlWindowStart), username)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	}
	if err != nil || !withUser {
		return err
	}
	err = tx.QueryRowxContext(ctx, tx.Rebind(sqlLoginUser), username).StructScan(&row.loginUserRow)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}

// FinishLogin writes the outcome of a login's password check and the audit
// events of ctx atomically: one statement on PostgreSQL.
func (db *DB) FinishLogin(ctx context.Context, f *domain.LoginFinish) error {
	var writes []write
	if f.ClearFailures != "" {
		writes = append(writes, write{`DELETE FROM login_failures WHERE username = ?`, []any{f.ClearFailures}})
	}
	if r := f.Rehash; r != nil {
		writes = append(writes, write{`UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`,
			[]any{r.NewHash, r.UserID, r.OldHash}})
	}
	if s := f.Session; s != nil {
		writes = append(writes, write{sqlInsertSession, sessionValues(s)})
	}
	if c := f.Challenge; c != nil {
		writes = append(writes, write{insertChallenge, []any{c.TokenHash, c.UserID, c.FirstFactor, c.ExpiresAt.UTC(), c.CreatedAt.UTC()}})
	}
	err := db.writeAll(ctx, writes)
	if isForeignKeyViolation(err) {
		return userNotFound(err)
	}
	if err != nil {
		return fmt.Errorf("finish login: %w", err)
	}
	return nil
}

// write is one statement of writeAll.
type write struct {
	query string
	args  []any
}

// writeAll runs writes and then the audit events attached to ctx, all or
// none. On PostgreSQL they are one statement, each write a data-modifying
// WITH clause: one round trip and one implicit transaction. On SQLite they
// run one after another in InTx. Errors are mapped (see mapError).
func (db *DB) writeAll(ctx context.Context, writes []write) (err error) {
	if db.Dialect != Postgres {
		return db.InTx(ctx, func(tx *sqlx.Tx) error {
			for _, w := range writes {
				if _, err := tx.ExecContext(ctx, tx.Rebind(w.query), w.args...); err != nil {
					return err
				}
			}
			return nil
		})
	}
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	var clauses []string
	var args []any
	for i, w := range writes {
		clauses = append(clauses, fmt.Sprintf("w%d AS (%s)", i, w.query))
		args = append(args, w.args...)
	}
	pending := domain.AuditFrom(ctx)
	var events []*domain.AuditEvent
	if pending != nil {
		events = pending.Take()
	}
	final := `SELECT 0 AS id`
	if len(events) > 0 {
		values, err := db.auditRows(ctx, events)
		if err != nil {
			return err
		}
		clauses = append(clauses, `audit AS (INSERT INTO audit_events (`+auditInsertColumns+`) VALUES `+
			strings.TrimSuffix(strings.Repeat(auditPlaceholders+`, `, len(events)), `, `)+` RETURNING id)`)
		args = append(args, values...)
		final = `SELECT id FROM audit ORDER BY id`
	}
	if len(clauses) == 0 {
		return nil
	}
	// Few texts: the login's combinations and one or two audit rows.
	query := `WITH ` + strings.Join(clauses, `, `) + ` ` + final
	st, err := db.prepared(ctx, query)
	if err != nil {
		return err
	}
	var ids []int64
	if st != nil {
		err = st.SelectContext(ctx, &ids, args...)
	} else {
		err = sqlx.SelectContext(ctx, db.pool, &ids, db.pool.Rebind(query), args...)
	}
	if err != nil {
		return mapError(err)
	}
	for i, e := range events {
		e.ID = ids[i]
	}
	if pending != nil && len(events) > 0 {
		pending.MarkWritten()
	}
	return nil
}

// relaxCommit lets tx commit without waiting for its WAL flush on
// PostgreSQL. Only for the login-failure counters, which every login writes:
// a crash may lose the last few counts, never money or credentials.
func (db *DB) relaxCommit(ctx context.Context, tx *sqlx.Tx) error {
	if db.Dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit TO OFF`); err != nil {
		return fmt.Errorf("relax commit: %w", err)
	}
	return nil
}
