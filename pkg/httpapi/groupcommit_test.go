package httpapi_test

import (
	"net/http"

	"github.com/authsvc/authsvc/pkg/domain"
	"sync"
	"testing"
)

// TestGroupCommitOverHTTP: serve's wiring (credits.group_commit is on by
// default) batches concurrent debits of one account on PostgreSQL and not on
// SQLite; on both, 200 concurrent POST /credits/use of 1.00 on 100.00
// through the real API succeed exactly 100 times, and the history holds
// exactly those 100 rows.
func TestGroupCommitOverHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		t.Parallel()
		root, alice := e.admin("root"), e.register("alice")
		e.fund(root, alice, 100)
		statuses := make([]int, 200)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				r := e.do("POST", "/credits/use", map[string]any{"amount": 1.00}, alice.Token)
				statuses[i] = r.Status
				if r.Status == http.StatusBadRequest {
					r.want(t, http.StatusBadRequest, "insufficient_credits")
				}
			})
		}
		wg.Wait()
		counts := map[int]int{}
		for _, s := range statuses {
			counts[s]++
		}
		if counts[http.StatusOK] != 100 || counts[http.StatusBadRequest] != 100 {
			t.Fatalf("statuses %v, want 100 × 200 and 100 × 400", counts)
		}
		b := e.balance(alice)
		if b["balance"] != 0.0 || b["available"] != 0.0 {
			t.Fatalf("balance %v, want 0", b)
		}
		page := e.do("GET", "/credits/transactions?limit=200", nil, alice.Token).want(t, http.StatusOK, "")
		if page["total_count"] != 101.0 || len(page["transactions"].([]any)) != 101 {
			t.Fatalf("total_count %v with %d rows, want 101", page["total_count"], len(page["transactions"].([]any)))
		}
		// One audit event per applied debit, naming its ledger row, and none
		// for the refused ones.
		var events, distinct int
		if err := e.SQL().QueryRow(e.SQL().Rebind(`SELECT COUNT(*), COUNT(DISTINCT details) FROM audit_events
			WHERE event = ? AND target_id = ? AND details LIKE '%transaction_id%'`), domain.AuditCreditsUsed, alice.ID).Scan(&events, &distinct); err != nil {
			t.Fatal(err)
		}
		if events != 100 || distinct != 100 {
			t.Fatalf("%d credits_used audit events (%d distinct), want 100", events, distinct)
		}
		g := e.Stack.Credits.GroupCommit()
		if e.DB.Dialect == "postgres" {
			if g == nil {
				t.Fatal("group commit is off on PostgreSQL")
			}
			batches, debits := g.Stats()
			t.Logf("%d batches carried %d of 200 debits", batches, debits)
		} else if g != nil {
			t.Fatal("group commit is on on SQLite")
		}
	})
}
