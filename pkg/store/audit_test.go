package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func auditCount(t *testing.T, db *store.DB, event string) int {
	t.Helper()
	var n int
	if err := db.SQL().Get(&n, db.SQL().Rebind(`SELECT COUNT(*) FROM audit_events WHERE event = ?`), event); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAuditInTheChangesTransaction(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := domain.WithClient(context.Background(), domain.Client{IP: "192.0.2.7", UserAgent: "ua/1", RequestID: "req-1"})
		alice := newUser(t, db, "alice", "alice@example.com")
		newUser(t, db, "bob", "bob@example.com")
		t.Run("a failed change writes no event", func(t *testing.T) {
			ev := &domain.AuditEvent{Event: domain.AuditEmailChanged, ActorID: alice.ID, TargetID: alice.ID}
			_, err := db.UpdateEmail(domain.WithAudit(ctx, ev), alice.ID, "bob@example.com", nil)
			wantCode(t, err, domain.ECONFLICT, "email_taken")
			if n := auditCount(t, db, domain.AuditEmailChanged); n != 0 {
				t.Fatalf("%d events for a rolled-back change", n)
			}
		})
		t.Run("a change writes its event once, with the request's client", func(t *testing.T) {
			audited := domain.WithAudit(ctx, &domain.AuditEvent{Event: domain.AuditPromoted, TargetID: alice.ID,
				Details: map[string]any{"via": "cli"}})
			if _, err := db.SetAdmin(audited, alice.ID, true); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SetAdmin(audited, alice.ID, true); err != nil { // the same context again
				t.Fatal(err)
			}
			events, err := db.AuditEvents(context.Background(), domain.AuditFilter{Event: domain.AuditPromoted, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 {
				t.Fatalf("%d events, want 1", len(events))
			}
			e := events[0]
			if e.TargetID != alice.ID || e.ActorID != 0 || e.ClientIP != "192.0.2.7" || e.UserAgent != "ua/1" ||
				e.RequestID != "req-1" || e.Details["via"] != "cli" || e.CreatedAt.IsZero() {
				t.Fatalf("event = %+v", e)
			}
		})
		t.Run("a ledger change writes its event once, naming its row", func(t *testing.T) {
			ref := "order-1"
			entry := func(amount domain.Cents) (*domain.Transaction, *domain.AuditEvent, error) {
				ev := &domain.AuditEvent{Event: domain.AuditCreditsAdded, ActorID: alice.ID, TargetID: alice.ID,
					Details: map[string]any{"amount": amount.String()}}
				tx, _, err := db.ApplyCredit(domain.WithAudit(ctx, ev), &domain.LedgerEntry{UserID: alice.ID,
					Amount: amount, Type: domain.CreditAdded, ReferenceID: &ref})
				return tx, ev, err
			}
			tx, ev, err := entry(500)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := entry(500); err != nil { // a replay: no second event
				t.Fatal(err)
			}
			if _, again, err := entry(700); domain.ErrorReason(err) != "idempotency_conflict" || again.ID != 0 {
				t.Fatalf("a conflicting repeat: %v, event id %d", err, again.ID)
			}
			events, err := db.AuditEvents(context.Background(), domain.AuditFilter{Event: domain.AuditCreditsAdded, Limit: 10})
			if err != nil || len(events) != 1 {
				t.Fatalf("%d events, want 1 (%v)", len(events), err)
			}
			e := events[0]
			if e.ID != ev.ID || e.Details["transaction_id"] != float64(tx.ID) || e.Details["amount"] != domain.Cents(500).String() ||
				e.ClientIP != "192.0.2.7" || e.RequestID != "req-1" || !e.CreatedAt.Equal(ev.CreatedAt) {
				t.Fatalf("event = %+v, want id %d naming row %d", e, ev.ID, tx.ID)
			}
		})
		t.Run("a throttled request writes no event", func(t *testing.T) {
			for range 2 {
				ev := &domain.AuditEvent{Event: domain.AuditPasswordResetRequest, TargetID: alice.ID}
				if _, err := db.CreateResetToken(domain.WithAudit(ctx, ev), alice.ID, "hash-"+time.Now().String(),
					db.Now().Add(time.Hour), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if n := auditCount(t, db, domain.AuditPasswordResetRequest); n != 1 {
				t.Fatalf("%d reset-request events, want 1 (the second was throttled)", n)
			}
		})
		t.Run("prune deletes old events in batches", func(t *testing.T) {
			for range 5 {
				if err := db.RecordAudit(ctx, &domain.AuditEvent{Event: domain.AuditLoginFailed}); err != nil {
					t.Fatal(err)
				}
			}
			cutoff := db.Now().Add(time.Second)
			total := int64(0)
			for {
				n, err := db.PruneAudit(context.Background(), cutoff, 2)
				if err != nil {
					t.Fatal(err)
				}
				if n > 2 {
					t.Fatalf("a batch of 2 deleted %d", n)
				}
				total += n
				if n < 2 {
					break
				}
			}
			if total != 8 || auditCount(t, db, domain.AuditLoginFailed) != 0 {
				t.Fatalf("pruned %d, want all 8", total)
			}
		})
	})
}
