package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/authsvc/authsvc/pkg/authsvc"
	"github.com/jmoiron/sqlx"
)

// enqueueEmails writes msgs to the outbox inside tx, so that a message exists
// exactly when the change that causes it is committed. Each message is due now.
func (db *DB) enqueueEmails(ctx context.Context, tx *sqlx.Tx, msgs ...*authsvc.OutboundEmail) error {
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
