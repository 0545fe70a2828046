package store_test

import (
	"context"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func use(userID int64, amount domain.Cents, reference *string) domain.BatchOp {
	return domain.BatchOp{Debit: &domain.LedgerEntry{UserID: userID, Type: domain.CreditUsed, Amount: amount, ReferenceID: reference}}
}

func holdOp(userID int64, amount domain.Cents, reference *string) domain.BatchOp {
	return domain.BatchOp{Hold: &domain.NewHold{UserID: userID, Amount: amount, ReferenceID: reference, ExpiresIn: domain.DefaultHoldTTL}}
}

// seqsOf returns the user's seq values, oldest first.
func seqsOf(t testing.TB, db *store.DB, userID int64) []int64 {
	t.Helper()
	var seqs []int64
	if err := db.SQL().Select(&seqs, db.SQL().Rebind(`SELECT seq FROM credit_transactions WHERE user_id = ? ORDER BY seq`), userID); err != nil {
		t.Fatal(err)
	}
	return seqs
}

func wantDense(t testing.TB, seqs []int64, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Fatalf("%d rows, want %d", len(seqs), n)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("seq %v is not 1..%d dense", seqs, n)
		}
	}
}

// TestApplyCreditBatch: one batch, decided in order against the running
// balance: repeats of one reference apply once (also one used before the
// batch), a debit beyond the balance and a reference reused with another
// amount are refused alone, and the rows continue the history's seq.
func TestApplyCreditBatch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		user := newLedgerUser(t, db, "batch")
		apply(t, db, user, domain.CreditAdded, 5_00, nil)              // seq 1
		old := apply(t, db, user, domain.CreditUsed, 1_00, ref("old")) // seq 2, balance 4.00
		entries := []domain.BatchOp{
			use(user, 1_00, ref("a")),   // 0: applied, 3.00
			use(user, 1_00, ref("a")),   // 1: repeat of 0
			use(user, 10_00, nil),       // 2: insufficient
			use(user, 1_00, ref("old")), // 3: repeat of a row before the batch
			use(user, 2_00, ref("a")),   // 4: conflict with 0
			use(user, 2_00, nil),        // 5: applied, 1.00
			use(user, 1_50, ref("b")),   // 6: insufficient (1.00 left)
			use(user, 1_00, ref("b")),   // 7: applied, 0.00 (6 applied nothing)
		}
		outs, err := db.ApplyCreditBatch(ctx, user, entries)
		if err != nil {
			t.Fatal(err)
		}
		if len(outs) != len(entries) {
			t.Fatalf("%d outcomes for %d entries", len(outs), len(entries))
		}
		for _, i := range []int{0, 5, 7} {
			if outs[i].Err != nil || outs[i].Replayed || outs[i].Transaction == nil || outs[i].Transaction.ID == 0 {
				t.Fatalf("entry %d: %+v, want applied", i, outs[i])
			}
		}
		if outs[0].Transaction.NewBalance != 3_00 || outs[5].Transaction.NewBalance != 1_00 || outs[7].Transaction.NewBalance != 0 {
			t.Fatalf("running balances %s %s %s, want 3.0 1.0 0.0",
				outs[0].Transaction.NewBalance, outs[5].Transaction.NewBalance, outs[7].Transaction.NewBalance)
		}
		if seqs := []int64{outs[0].Transaction.Seq, outs[5].Transaction.Seq, outs[7].Transaction.Seq}; seqs[0] != 3 || seqs[1] != 4 || seqs[2] != 5 {
			t.Fatalf("seqs %v, want 3 4 5", seqs)
		}
		if o := outs[1]; o.Err != nil || !o.Replayed || !sameTransaction(o.Transaction, outs[0].Transaction) {
			t.Fatalf("repeat in batch: %+v", o)
		}
		if o := outs[3]; o.Err != nil || !o.Replayed || !sameTransaction(o.Transaction, old) {
			t.Fatalf("repeat of an earlier row: %+v, want %+v", o, old)
		}
		wantReason(t, outs[2].Err, domain.EINVALID, "insufficient_credits")
		wantReason(t, outs[6].Err, domain.EINVALID, "insufficient_credits")
		wantReason(t, outs[4].Err, domain.ECONFLICT, "idempotency_conflict")
		if b := balanceOf(t, db, user); b != 0 {
			t.Fatalf("balance %s, want 0", b)
		}
		wantDense(t, seqsOf(t, db, user), 5)
		// The rows are what the outcomes say.
		page, err := db.CreditHistory(ctx, user, 0, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != 5 || !sameTransaction(page.Transactions[0], outs[7].Transaction) ||
			!sameTransaction(page.Transactions[2], outs[0].Transaction) {
			t.Fatalf("history %+v", page)
		}
	})
}

// TestApplyCreditBatchHolds: a batch spends only the available balance
// (balance − held); holds and debits in one batch are decided in order
// against it, repeats of a hold's reference apply once; a user without a
// balance row is refused.
func TestApplyCreditBatchHolds(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		user := newLedgerUser(t, db, "held")
		apply(t, db, user, domain.CreditAdded, 3_00, nil)
		if _, _, err := db.CreateHold(ctx, &domain.NewHold{UserID: user, Amount: 2_00, ExpiresIn: domain.DefaultHoldTTL}); err != nil {
			t.Fatal(err)
		}
		outs, err := db.ApplyCreditBatch(ctx, user, []domain.BatchOp{use(user, 1_00, nil), use(user, 1_00, nil)})
		if err != nil {
			t.Fatal(err)
		}
		if outs[0].Err != nil || outs[0].Transaction.NewBalance != 2_00 {
			t.Fatalf("first: %+v", outs[0])
		}
		wantReason(t, outs[1].Err, domain.EINVALID, "insufficient_credits")

		// Holds and debits in one batch, against the running available balance.
		mixed := newLedgerUser(t, db, "mixed")
		apply(t, db, mixed, domain.CreditAdded, 5_00, nil)
		outs, err = db.ApplyCreditBatch(ctx, mixed, []domain.BatchOp{
			holdOp(mixed, 2_00, ref("h")), // 0: held 2.00, available 3.00
			use(mixed, 1_00, ref("h")),    // 1: a debit's reference is not a hold's: applied, available 2.00
			holdOp(mixed, 2_00, ref("h")), // 2: repeat of 0
			holdOp(mixed, 3_00, nil),      // 3: insufficient
			holdOp(mixed, 9_00, ref("h")), // 4: conflict with 0
			use(mixed, 2_00, nil),         // 5: applied, available 0
			use(mixed, 1, nil),            // 6: insufficient
		})
		if err != nil {
			t.Fatal(err)
		}
		if o := outs[0]; o.Err != nil || o.Replayed || o.Hold == nil || o.Hold.ID == 0 || o.Hold.Status != domain.HoldPending {
			t.Fatalf("hold: %+v", o)
		}
		if o := outs[2]; o.Err != nil || !o.Replayed || o.Hold != outs[0].Hold {
			t.Fatalf("repeated hold: %+v", o)
		}
		if outs[1].Err != nil || outs[5].Err != nil || outs[5].Transaction.NewBalance != 2_00 {
			t.Fatalf("debits: %+v %+v", outs[1], outs[5])
		}
		wantReason(t, outs[3].Err, domain.EINVALID, "insufficient_credits")
		wantReason(t, outs[4].Err, domain.ECONFLICT, "idempotency_conflict")
		wantReason(t, outs[6].Err, domain.EINVALID, "insufficient_credits")
		b, err := db.CreditBalance(ctx, mixed)
		if err != nil || b.Balance != 2_00 || b.Held != 2_00 || b.Available != 0 {
			t.Fatalf("balance %+v, %v; want 2.0 held 2.0", b, err)
		}
		// The batch's hold is a real hold: a capture of it works.
		c, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: outs[0].Hold.ID, Amount: 1_50})
		if err != nil || c.Transaction.NewBalance != 50 || c.Transaction.Seq != 4 {
			t.Fatalf("capture: %+v, %v", c, err)
		}
		// And a repeat of its reference in a later batch returns it.
		outs, err = db.ApplyCreditBatch(ctx, mixed, []domain.BatchOp{holdOp(mixed, 2_00, ref("h")), use(mixed, 50, nil)})
		if err != nil || !outs[0].Replayed || outs[0].Hold.ID != c.Hold.ID || outs[0].Hold.Status != domain.HoldCaptured || outs[1].Err != nil {
			t.Fatalf("later repeat: %+v, %v", outs, err)
		}
		wantDense(t, seqsOf(t, db, mixed), 5)

		broke := newLedgerUser(t, db, "broke")
		outs, err = db.ApplyCreditBatch(ctx, broke, []domain.BatchOp{use(broke, 1, nil), use(broke, 1, ref("x")), holdOp(broke, 1, nil)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			wantReason(t, o.Err, domain.EINVALID, "insufficient_credits")
		}
	})
}

// TestApplyCreditBatchDatabaseError: when a statement of the batch fails
// (here a trigger refuses one of the rows), nothing of the batch is applied
// and no outcome is returned.
func TestApplyCreditBatchDatabaseError(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		user := newLedgerUser(t, db, "boom")
		apply(t, db, user, domain.CreditAdded, 10_00, nil)
		storetest.FailTransactionsWithDescription(t, db, "boom")
		boom := "boom"
		entries := []domain.BatchOp{use(user, 1_00, ref("1")), use(user, 1_00, nil), use(user, 1_00, nil)}
		entries[2].Debit.Description = &boom
		outs, err := db.ApplyCreditBatch(ctx, user, entries)
		if err == nil || outs != nil {
			t.Fatalf("got %+v, %v; want an error and no outcomes", outs, err)
		}
		if b := balanceOf(t, db, user); b != 10_00 {
			t.Fatalf("balance %s, want 10.0 (nothing applied)", b)
		}
		wantDense(t, seqsOf(t, db, user), 1)
		// The same batch without the failing row applies, reference 1 included.
		outs, err = db.ApplyCreditBatch(ctx, user, entries[:2])
		if err != nil || outs[0].Replayed || outs[0].Err != nil || outs[1].Err != nil {
			t.Fatalf("retry: %+v, %v", outs, err)
		}
	})
}

// TestApplyCreditBatchRoundTrips: on PostgreSQL a batch of debits takes the
// bare debit transaction's four statements however many debits it holds:
// BEGIN, the lock, one statement writing the balance, the rows and their
// audit events, COMMIT.
func TestApplyCreditBatchRoundTrips(t *testing.T) {
	queries := storetest.NewCounter()
	db := storetest.OpenWith(t, storetest.PostgresURL(t), func(o *store.Options) { o.WrapDriver = queries.Wrap })
	ctx := context.Background()
	user := newLedgerUser(t, db, "batched")
	apply(t, db, user, domain.CreditAdded, 5_00, nil)
	var ops []domain.BatchOp
	for i := range 3 {
		op := use(user, 1_00, nil)
		ev := &domain.AuditEvent{Event: domain.AuditCreditsUsed, TargetID: user, Details: map[string]any{"i": i}}
		op.Ctx = domain.WithAudit(ctx, ev)
		ops = append(ops, op)
	}
	before := queries.Count()
	outs, err := db.ApplyCreditBatch(ctx, user, ops)
	if err != nil {
		t.Fatal(err)
	}
	if n := queries.Count() - before; n != 4 {
		t.Errorf("a batch of 3 debits sent %d statements, want 4", n)
	}
	wantDense(t, seqsOf(t, db, user), 4)
	got, err := db.AuditEvents(ctx, domain.AuditFilter{Event: domain.AuditCreditsUsed, Limit: 10})
	if err != nil || len(got) != 3 {
		t.Fatalf("%d events (%v), want 3", len(got), err)
	}
	for _, e := range got { // newest first: i = 2, 1, 0
		i := int(e.Details["i"].(float64))
		if tx := outs[i].Transaction; e.Details["transaction_id"] != float64(tx.ID) || tx.Seq != int64(i+2) {
			t.Fatalf("event %+v of debit %d (%+v)", e, i, tx)
		}
	}
}
