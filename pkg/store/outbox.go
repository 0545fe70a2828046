package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// The mail worker's view of the store.
var _ domain.Outbox = (*DB)(nil)

// maxLastError bounds the stored last_error text.
const maxLastError = 1000

// enqueueEmails writes msgs to the outbox inside tx, so that a message exists
// exactly when the change that causes it is committed. Each message is due now.
func (db *DB) enqueueEmails(ctx context.Context, tx *sqlx.Tx, msgs ...*domain.OutboundEmail) error {
	now := db.Now()
	for _, m := range msgs {
		if m == nil {
			continue
		}
		data, err := json.Marshal(m.Data)
		if err != nil {
			return fmt.Errorf("encode email data: %w", err)
		}
		err = tx.QueryRowxContext(ctx, tx.Rebind(`INSERT INTO email_outbox (kind, recipient, data, status, attempts, next_attempt_at, created_at)
			VALUES (?, ?, ?, 'pending', 0, ?, ?) RETURNING id`), m.Kind, m.Recipient, string(data), now, now).Scan(&m.ID)
		if err != nil {
			return fmt.Errorf("enqueue %s email: %w", m.Kind, err)
		}
		m.NextAttemptAt, m.CreatedAt = now, now
	}
	return nil
}

// EnqueueEmails writes msgs to the outbox in a transaction of their own, due
// now. Use cases that change data enqueue inside their own transaction
// instead; this is for messages that stand alone (and for tests).
func (db *DB) EnqueueEmails(ctx context.Context, msgs ...*domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error { return db.enqueueEmails(ctx, tx, msgs...) })
}

// outboxRow is an email_outbox row as the worker reads it.
type outboxRow struct {
	domain.OutboundEmail
	Data string `db:"data"`
}

// ClaimEmails leases up to limit due pending emails for lease; see
// domain.Outbox. On PostgreSQL rows locked by another claimer are skipped
// (FOR UPDATE SKIP LOCKED); on SQLite claims are serialized by InTx. A row
// whose stored data is not a JSON object is marked failed instead of returned.
func (db *DB) ClaimEmails(ctx context.Context, limit int, lease time.Duration) ([]*domain.OutboundEmail, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if db.Dialect == Postgres {
		lock = "FOR UPDATE SKIP LOCKED"
	}
	query := db.pool.Rebind(`UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = ?
		WHERE id IN (SELECT id FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id LIMIT ? ` + lock + `)
		RETURNING id, kind, recipient, data, attempts, next_attempt_at, created_at`)
	var claimed []*domain.OutboundEmail
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		claimed = claimed[:0]
		now := db.Now()
		var rows []outboxRow
		if err := tx.SelectContext(ctx, &rows, query, now.Add(lease), now, limit); err != nil {
			return fmt.Errorf("claim emails: %w", err)
		}
		for i := range rows {
			e := rows[i].OutboundEmail
			data, err := decodeEmailData(rows[i].Data)
			if err != nil {
				db.log.Error().Int64("email_id", e.ID).Str("kind", e.Kind).Str("recipient", e.Recipient).
					Msg("outbox email has undecodable data; marked failed")
				if err := db.finishEmail(ctx, tx, &e, "failed", "invalid stored data: "+err.Error(), now); err != nil {
					return err
				}
				continue
			}
			e.Data = data
			e.NextAttemptAt, e.CreatedAt = e.NextAttemptAt.UTC(), e.CreatedAt.UTC()
			claimed = append(claimed, &e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(claimed, func(i, j int) bool { return claimed[i].ID < claimed[j].ID })
	return claimed, nil
}

// decodeEmailData decodes the data column: a JSON object whose values are
// strings (numbers and booleans are accepted and written as text).
func decodeEmailData(raw string) (map[string]string, error) {
	var generic map[string]any
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	data := make(map[string]string, len(generic))
	for k, v := range generic {
		switch v := v.(type) {
		case string:
			data[k] = v
		case float64:
			data[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			data[k] = strconv.FormatBool(v)
		case nil:
		default:
			return nil, fmt.Errorf("key %q is not a scalar", k)
		}
	}
	return data, nil
}

// MarkEmailSent records that a claimed email was sent and clears its data.
func (db *DB) MarkEmailSent(ctx context.Context, e *domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		return db.finishEmail(ctx, tx, e, "sent", "", db.Now())
	})
}

// FailEmail marks a claimed email failed for good, keeping lastErr and
// clearing its data.
func (db *DB) FailEmail(ctx context.Context, e *domain.OutboundEmail, lastErr string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		return db.finishEmail(ctx, tx, e, "failed", lastErr, db.Now())
	})
}

// finishEmail moves a claimed email to status sent or failed, fenced on its
// attempt count. sent_at is set for sent emails; data is cleared either way
// so that reset links do not linger.
func (db *DB) finishEmail(ctx context.Context, tx *sqlx.Tx, e *domain.OutboundEmail, status, lastErr string, now time.Time) error {
	var res sql.Result
	var err error
	if status == "sent" {
		res, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE email_outbox SET status = 'sent', sent_at = ?, data = '{}'
			WHERE id = ? AND status = 'pending' AND attempts = ?`), now, e.ID, e.Attempts)
	} else {
		res, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE email_outbox SET status = 'failed', last_error = ?, data = '{}'
			WHERE id = ? AND status = 'pending' AND attempts = ?`), truncateError(lastErr), e.ID, e.Attempts)
	}
	if err != nil {
		return fmt.Errorf("mark email %d %s: %w", e.ID, status, err)
	}
	return leaseHeld(res, e)
}

// RetryEmail makes a claimed email due again after delay (measured on the
// store's clock), recording lastErr.
func (db *DB) RetryEmail(ctx context.Context, e *domain.OutboundEmail, delay time.Duration, lastErr string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		next := db.Now().Add(max(delay, 0))
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE email_outbox SET next_attempt_at = ?, last_error = ?
			WHERE id = ? AND status = 'pending' AND attempts = ?`), next, truncateError(lastErr), e.ID, e.Attempts)
		if err != nil {
			return fmt.Errorf("reschedule email %d: %w", e.ID, err)
		}
		if err := leaseHeld(res, e); err != nil {
			return err
		}
		e.NextAttemptAt = next
		return nil
	})
}

// RenewEmailLease extends a claimed email's lease to lease from now (on the
// store's clock), fenced on its attempt count; ECONFLICT when the lease was
// lost. See domain.Outbox.
func (db *DB) RenewEmailLease(ctx context.Context, e *domain.OutboundEmail, lease time.Duration) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		next := db.Now().Add(lease)
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE email_outbox SET next_attempt_at = ?
			WHERE id = ? AND status = 'pending' AND attempts = ?`), next, e.ID, e.Attempts)
		if err != nil {
			return fmt.Errorf("renew lease of email %d: %w", e.ID, err)
		}
		if err := leaseHeld(res, e); err != nil {
			return err
		}
		e.NextAttemptAt = next
		return nil
	})
}

// ReleaseEmail returns a claimed, unsent email to the queue, due now, and
// takes back the attempt its claim counted.
func (db *DB) ReleaseEmail(ctx context.Context, e *domain.OutboundEmail) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		now := db.Now()
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE email_outbox SET next_attempt_at = ?, attempts = attempts - 1
			WHERE id = ? AND status = 'pending' AND attempts = ?`), now, e.ID, e.Attempts)
		if err != nil {
			return fmt.Errorf("release email %d: %w", e.ID, err)
		}
		if err := leaseHeld(res, e); err != nil {
			return err
		}
		e.Attempts--
		e.NextAttemptAt = now
		return nil
	})
}

// leaseHeld turns "no row updated" into ECONFLICT: the email is no longer
// pending at the attempt count this worker claimed it with.
func leaseHeld(res sql.Result, e *domain.OutboundEmail) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return domain.ErrEmailLeaseLost.With(fmt.Errorf("email %d is no longer claimed at attempt %d", e.ID, e.Attempts))
	}
	return nil
}

func truncateError(s string) string {
	if len(s) <= maxLastError {
		return s
	}
	// Cut on a rune boundary.
	cut := maxLastError
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}

// OutboxStats returns the number of pending emails and the age of the oldest
// one by creation time (0 when the queue is empty), for metrics.
func (db *DB) OutboxStats(ctx context.Context) (depth int, oldest time.Duration, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	if err := db.pool.GetContext(ctx, &depth, `SELECT COUNT(*) FROM email_outbox WHERE status = 'pending'`); err != nil {
		return 0, 0, mapError(fmt.Errorf("count pending emails: %w", err))
	}
	if depth == 0 {
		return 0, 0, nil
	}
	var created []time.Time
	if err := db.pool.SelectContext(ctx, &created,
		`SELECT created_at FROM email_outbox WHERE status = 'pending' ORDER BY created_at LIMIT 1`); err != nil {
		return 0, 0, mapError(fmt.Errorf("oldest pending email: %w", err))
	}
	if len(created) == 1 {
		oldest = max(db.Now().Sub(created[0].UTC()), 0)
	}
	return depth, oldest, nil
}
