package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

var _ domain.SessionStore = (*DB)(nil)

// Field limits of a session row: longer client values are cut, not refused.
const (
	maxClientIPBytes  = 64
	maxUserAgentBytes = 512
)

const sessionColumns = `id, user_id, created_at, refreshed_at, expires_at, client_ip, user_agent`

func normalizeSession(s *domain.Session) *domain.Session {
	s.CreatedAt, s.RefreshedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.RefreshedAt.UTC(), s.ExpiresAt.UTC()
	return s
}

// truncate makes s storable (invalid UTF-8 and NUL bytes replaced) and cuts
// it to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if !storable(s) {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// sqlInsertSession inserts a session; sessionValues are its arguments.
const sqlInsertSession = `INSERT INTO sessions (` + sessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`

// sessionValues cuts the client IP and user agent of s to their limits and
// returns the arguments of sqlInsertSession.
func sessionValues(s *domain.Session) []any {
	s.ClientIP, s.UserAgent = truncate(s.ClientIP, maxClientIPBytes), truncate(s.UserAgent, maxUserAgentBytes)
	return []any{s.ID, s.UserID, s.CreatedAt.UTC(), s.RefreshedAt.UTC(), s.ExpiresAt.UTC(), s.ClientIP, s.UserAgent}
}

// CreateSession inserts s (client IP and user agent cut to their limits).
// ENOTFOUND when the user is gone.
func (db *DB) CreateSession(ctx context.Context, s *domain.Session) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		return insertSession(ctx, tx, s)
	})
}

func insertSession(ctx context.Context, tx *sqlx.Tx, s *domain.Session) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(sqlInsertSession), sessionValues(s)...)
	if err != nil {
		if isForeignKeyViolation(err) {
			return userNotFound(err)
		}
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// Sessions lists the user's unexpired sessions, newest first.
func (db *DB) Sessions(ctx context.Context, userID int64) (_ []*domain.Session, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	sessions := []*domain.Session{}
	err = sqlx.SelectContext(ctx, db.pool, &sessions, db.pool.Rebind(`SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id`), userID, db.Now())
	if err != nil {
		return nil, mapError(fmt.Errorf("list sessions: %w", err))
	}
	for _, s := range sessions {
		normalizeSession(s)
	}
	return sessions, nil
}

// EndSession deletes the user's session id; ENOTFOUND when the user has no
// such session (another user's session is not found either).
func (db *DB) EndSession(ctx context.Context, userID int64, id string) error {
	if !storable(id) { // no session has such an id (PostgreSQL would refuse the text)
		return domain.ErrSessionNotFound
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM sessions WHERE id = ? AND user_id = ?`), id, userID)
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return domain.ErrSessionNotFound
		}
		return nil
	})
}

// EndSessions deletes every session of the user but except ("" ends all)
// and returns how many ended.
func (db *DB) EndSessions(ctx context.Context, userID int64, except string) (int64, error) {
	var n int64
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if n, err = endSessions(ctx, tx, userID, except); err != nil || except != "" {
			return err
		}
		// Ending all of them also ends tokens issued before sessions existed
		// (they carry no sid): a new token version refuses every earlier token.
		_, err = db.updateUser(ctx, tx, userID, `token_version = token_version + 1`)
		return err
	})
	return n, err
}

// endSessions deletes the user's sessions but except inside tx.
func endSessions(ctx context.Context, tx *sqlx.Tx, userID int64, except string) (int64, error) {
	res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM sessions WHERE user_id = ? AND id <> ?`), userID, except)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	return res.RowsAffected()
}

// RefreshSession revokes jti until revokeUntil and stamps the session's
// refresh time in one transaction; ECONFLICT (Reason token_revoked) when jti
// was already revoked, so that of concurrent refreshes exactly one wins.
func (db *DB) RefreshSession(ctx context.Context, jti string, revokeUntil time.Time, sessionID string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := revokeToken(ctx, tx, jti, revokeUntil); err != nil {
			return err
		}
		if sessionID == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE sessions SET refreshed_at = ? WHERE id = ?`), db.Now(), sessionID)
		if err != nil {
			return fmt.Errorf("touch session: %w", err)
		}
		return nil
	})
}
