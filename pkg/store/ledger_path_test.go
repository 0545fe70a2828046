package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestLedgerOneNumbering: rows written by every kind of change — an add and
// a use alone, a group-committed batch of debits, a batch of debits and
// holds, a capture, a void, an expiry, the import — number one history:
// seq 1..n without a gap, each row's balance_after the one before it plus
// or minus its amount, and the balance row equal to the last.
func TestLedgerOneNumbering(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := time.Now().UTC().Truncate(time.Microsecond)
		db.SetClock(func() time.Time { return clock })
		if _, err := db.ImportUsers(ctx, []domain.ImportedUser{
			{Line: 1, Username: "numbered", Email: "numbered@example.com", PasswordHash: "$2a$10$abcdefghijklmnopqrstuu1234567890123456789012345678901", Balance: 50_00},
			{Line: 2, Username: "other", Email: "other@example.com", PasswordHash: "$2a$10$abcdefghijklmnopqrstuu1234567890123456789012345678902", Balance: 7_00},
		}, domain.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		var user int64
		if err := db.SQL().Get(&user, `SELECT id FROM users WHERE username = 'numbered'`); err != nil {
			t.Fatal(err)
		}
		apply(t, db, user, domain.CreditAdded, 10_00, nil)
		apply(t, db, user, domain.CreditUsed, 1_00, ref("alone"))
		if _, err := db.ApplyCreditBatch(ctx, user, []domain.BatchOp{use(user, 1_00, nil), use(user, 2_00, ref("b")), use(user, 3_00, nil)}); err != nil {
			t.Fatal(err)
		}
		outs, err := db.ApplyCreditBatch(ctx, user, []domain.BatchOp{holdOp(user, 4_00, nil), use(user, 1_00, nil), use(user, 1_00, nil)})
		if err != nil || outs[0].Err != nil {
			t.Fatalf("%+v, %v", outs, err)
		}
		if _, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: outs[0].Hold.ID, Amount: 3_00}); err != nil {
			t.Fatal(err)
		}
		voided := hold(t, db, user, 2_00, time.Hour)
		if _, _, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: voided.ID}); err != nil {
			t.Fatal(err)
		}
		hold(t, db, user, 5_00, time.Minute)
		hold(t, db, user, 6_00, time.Minute)
		clock = clock.Add(2 * time.Minute)
		if ids, err := db.ExpireHolds(ctx, 10); err != nil || len(ids) != 2 {
			t.Fatalf("expired %v, %v", ids, err)
		}
		apply(t, db, user, domain.CreditUsed, 1_00, nil)

		var rows []struct {
			Seq     int64  `db:"seq"`
			Amount  int64  `db:"amount"`
			Type    string `db:"transaction_type"`
			Balance int64  `db:"balance_after"`
		}
		if err := db.SQL().Select(&rows, db.SQL().Rebind(`SELECT seq, amount, transaction_type, balance_after
			FROM credit_transactions WHERE user_id = ? ORDER BY seq`), user); err != nil {
			t.Fatal(err)
		}
		// import, add, use, 3 batched debits, 2 debits of the mixed batch, capture, use
		if len(rows) != 10 {
			t.Fatalf("%d rows, want 10: %+v", len(rows), rows)
		}
		var balance int64
		for i, r := range rows {
			if r.Seq != int64(i+1) {
				t.Fatalf("row %d has seq %d: %+v", i, r.Seq, rows)
			}
			if r.Type == string(domain.CreditUsed) {
				balance -= r.Amount
			} else {
				balance += r.Amount
			}
			if r.Balance != balance {
				t.Fatalf("seq %d: balance_after %d, want %d: %+v", r.Seq, r.Balance, balance, rows)
			}
		}
		if got := readLedger(t, db, user); int64(got.Balance) != balance || got.Held != 0 {
			t.Fatalf("balance row %+v, history ends at %d", got, balance)
		}
	})
}
