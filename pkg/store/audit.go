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

var _ domain.AuditStore = (*DB)(nil)

const auditColumns = `id, created_at, event, actor_id, target_id, client_ip, user_agent, request_id, details`

// auditRow is an audit_events row.
type auditRow struct {
	ID        int64         `db:"id"`
	CreatedAt time.Time     `db:"created_at"`
	Event     string        `db:"event"`
	ActorID   sql.NullInt64 `db:"actor_id"`
	TargetID  sql.NullInt64 `db:"target_id"`
	ClientIP  string        `db:"client_ip"`
	UserAgent string        `db:"user_agent"`
	RequestID string        `db:"request_id"`
	Details   string        `db:"details"`
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// The columns an audit row is inserted with, and one row's placeholders;
// auditValues are its arguments.
const (
	auditInsertColumns = `created_at, event, actor_id, target_id, client_ip, user_agent, request_id, details`
	auditPlaceholders  = `(?, ?, ?, ?, ?, ?, ?, ?)`
)

// sqlInsertAudit writes one event.
const sqlInsertAudit = `INSERT INTO audit_events (` + auditInsertColumns + `) VALUES ` + auditPlaceholders

// auditValues stamps e (at now, with client where e names none) and returns
// the arguments of its row in sqlInsertAudit's column order.
func auditValues(e *domain.AuditEvent, client domain.Client, now time.Time) ([]any, error) {
	if e.ClientIP == "" && e.UserAgent == "" && e.RequestID == "" {
		e.ClientIP, e.UserAgent, e.RequestID = client.IP, client.UserAgent, client.RequestID
	}
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("audit details: %w", err)
	}
	e.CreatedAt = now
	return []any{now, e.Event, nullID(e.ActorID), nullID(e.TargetID),
		truncate(e.ClientIP, maxClientIPBytes), truncate(e.UserAgent, maxUserAgentBytes),
		truncate(e.RequestID, 128), string(raw)}, nil
}

// insertAudit writes events inside tx, stamped now, with the Client of ctx
// where an event names none.
func (db *DB) insertAudit(ctx context.Context, tx *sqlx.Tx, events []*domain.AuditEvent) error {
	client := domain.ClientFrom(ctx)
	now := db.Now()
	for _, e := range events {
		args, err := auditValues(e, client, now)
		if err != nil {
			return err
		}
		err = tx.QueryRowxContext(ctx, tx.Rebind(sqlInsertAudit+` RETURNING id`), args...).Scan(&e.ID)
		if err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
	}
	return nil
}

// auditRows returns the arguments of events' rows, one after another, stamped
// now and with the Client of ctx where an event names none.
func (db *DB) auditRows(ctx context.Context, events []*domain.AuditEvent) ([]any, error) {
	client := domain.ClientFrom(ctx)
	now := db.Now()
	var args []any
	for _, e := range events {
		row, err := auditValues(e, client, now)
		if err != nil {
			return nil, err
		}
		args = append(args, row...)
	}
	return args, nil
}

// writePendingAudit writes the events attached to ctx (WithAudit) in tx;
// InTx calls it before every commit.
func (db *DB) writePendingAudit(ctx context.Context, tx *sqlx.Tx) (*domain.PendingAudit, error) {
	p := domain.AuditFrom(ctx)
	if p == nil {
		return nil, nil
	}
	events := p.Take()
	if len(events) == 0 {
		return nil, nil
	}
	return p, db.insertAudit(ctx, tx, events)
}

// skipAudit drops the events attached to ctx: the call changed nothing.
func skipAudit(ctx context.Context) {
	if p := domain.AuditFrom(ctx); p != nil {
		p.Skip()
	}
}

// annotateAudit sets a detail on the events attached to ctx.
func annotateAudit(ctx context.Context, key string, value any) {
	if p := domain.AuditFrom(ctx); p != nil {
		p.Annotate(key, value)
	}
}

// RecordAudit writes events that have no change of their own, atomically:
// one statement on PostgreSQL.
func (db *DB) RecordAudit(ctx context.Context, events ...*domain.AuditEvent) error {
	return db.writeAll(domain.WithAudit(ctx, events...), nil)
}

// AuditEvents lists events newest first (by id), filtered by f.
func (db *DB) AuditEvents(ctx context.Context, f domain.AuditFilter) (_ []*domain.AuditEvent, err error) {
	ctx, done := db.start(ctx)
	defer func() { err = done(err) }()
	q := `SELECT ` + auditColumns + ` FROM audit_events WHERE 1 = 1`
	var args []any
	if f.UserID != 0 {
		q += ` AND (actor_id = ? OR target_id = ?)`
		args = append(args, f.UserID, f.UserID)
	}
	if f.Event != "" {
		q += ` AND event = ?`
		args = append(args, f.Event)
	}
	if !f.Since.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, f.Until.UTC())
	}
	if f.Cursor > 0 {
		q += ` AND id < ?`
		args = append(args, f.Cursor)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	var rows []auditRow
	if err := sqlx.SelectContext(ctx, db.pool, &rows, db.pool.Rebind(q), args...); err != nil {
		return nil, mapError(fmt.Errorf("list audit events: %w", err))
	}
	events := make([]*domain.AuditEvent, len(rows))
	for i, r := range rows {
		e := &domain.AuditEvent{ID: r.ID, CreatedAt: r.CreatedAt.UTC(), Event: r.Event, ActorID: r.ActorID.Int64,
			TargetID: r.TargetID.Int64, ClientIP: r.ClientIP, UserAgent: r.UserAgent, RequestID: r.RequestID}
		if err := json.Unmarshal([]byte(r.Details), &e.Details); err != nil {
			return nil, fmt.Errorf("audit event %d details: %w", r.ID, err)
		}
		events[i] = e
	}
	return events, nil
}

// PruneAudit deletes up to batch events created before cutoff, oldest
// first, and returns how many it deleted.
func (db *DB) PruneAudit(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	var n int64
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM audit_events WHERE id IN
			(SELECT id FROM audit_events WHERE created_at < ? ORDER BY id LIMIT ?)`), cutoff.UTC(), batch)
		if err != nil {
			return fmt.Errorf("prune audit events: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
