package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func hold(t testing.TB, db *store.DB, userID int64, amount domain.Cents, ttl time.Duration) *domain.Hold {
	t.Helper()
	h, replayed, err := db.CreateHold(context.Background(), &domain.NewHold{UserID: userID, Amount: amount, ExpiresIn: ttl})
	if err != nil || replayed {
		t.Fatalf("hold %s: replayed %v, %v", amount, replayed, err)
	}
	return h
}

// ledgerState reads the balance row and the sums that must agree with it.
type ledgerState struct {
	Balance, Held, Adds, Uses, Pending domain.Cents
	Transactions                       int
}

func readLedger(t testing.TB, db *store.DB, userID int64) ledgerState {
	t.Helper()
	var s ledgerState
	err := db.SQL().QueryRowx(db.SQL().Rebind(`SELECT c.balance, c.held,
			(SELECT COALESCE(SUM(amount), 0) FROM credit_transactions WHERE user_id = c.user_id AND transaction_type = 'credit_added'),
			(SELECT COALESCE(SUM(amount), 0) FROM credit_transactions WHERE user_id = c.user_id AND transaction_type = 'credit_used'),
			(SELECT COALESCE(SUM(amount), 0) FROM credit_holds WHERE user_id = c.user_id AND status = 'pending'),
			(SELECT COUNT(*) FROM credit_transactions WHERE user_id = c.user_id)
		FROM user_credits c WHERE c.user_id = ?`), userID).
		Scan(&s.Balance, &s.Held, &s.Adds, &s.Uses, &s.Pending, &s.Transactions)
	if err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	if s.Balance != s.Adds-s.Uses || s.Held != s.Pending || s.Balance-s.Held < 0 {
		t.Fatalf("ledger out of balance: %+v", s)
	}
	return s
}

func TestHoldLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := testkit.NewClock()
		db.SetClock(clock.Now)
		alice := newLedgerUser(t, db, "alice")
		apply(t, db, alice, domain.CreditAdded, 10000, nil)

		t.Run("a hold lowers available, not the balance", func(t *testing.T) {
			h := hold(t, db, alice, 4000, time.Minute)
			b, err := db.CreditBalance(ctx, alice)
			if err != nil || b.Balance != 10000 || b.Held != 4000 || b.Available != 6000 {
				t.Fatalf("balance %+v, %v", b, err)
			}
			if _, _, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: h.ID}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("a hold or a use beyond available is insufficient_credits", func(t *testing.T) {
			h := hold(t, db, alice, 9000, time.Minute)
			_, _, err := db.CreateHold(ctx, &domain.NewHold{UserID: alice, Amount: 1001, ExpiresIn: time.Minute})
			if domain.ErrorReason(err) != "insufficient_credits" {
				t.Fatalf("hold: %v", err)
			}
			_, _, err = db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: alice, Type: domain.CreditUsed, Amount: 1001})
			if domain.ErrorReason(err) != "insufficient_credits" {
				t.Fatalf("use: %v", err)
			}
			apply(t, db, alice, domain.CreditUsed, 1000, nil) // exactly what is available
			if _, _, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: h.ID}); err != nil {
				t.Fatal(err)
			}
			apply(t, db, alice, domain.CreditAdded, 1000, nil)
		})
		t.Run("partial capture charges the amount and releases the rest", func(t *testing.T) {
			before := readLedger(t, db, alice)
			h := hold(t, db, alice, 3000, time.Minute)
			c, replayed, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID, Amount: 1250, ReferenceID: ref("job-1")})
			if err != nil || replayed {
				t.Fatalf("capture: %v %v", replayed, err)
			}
			if c.Hold.Status != domain.HoldCaptured || *c.Hold.CapturedAmount != 1250 || *c.Hold.TransactionID != c.Transaction.ID ||
				c.Transaction.Amount != 1250 || c.Transaction.Type != domain.CreditUsed || c.Transaction.NewBalance != before.Balance-1250 {
				t.Fatalf("capture result %+v %+v", c.Hold, c.Transaction)
			}
			after := readLedger(t, db, alice)
			if after.Held != before.Held || after.Balance != before.Balance-1250 || after.Transactions != before.Transactions+1 {
				t.Fatalf("before %+v after %+v", before, after)
			}
		})
		t.Run("capture above the hold is refused and changes nothing", func(t *testing.T) {
			h := hold(t, db, alice, 500, time.Minute)
			_, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID, Amount: 501})
			if !errors.Is(err, domain.ErrCaptureExceedsHold) {
				t.Fatalf("got %v", err)
			}
			if _, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID}); err != nil {
				t.Fatalf("whole capture after the refusal: %v", err)
			}
		})
		t.Run("a resolved hold is refused with its state; the same capture reference replays", func(t *testing.T) {
			h := hold(t, db, alice, 700, time.Minute)
			first, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID, ReferenceID: ref("job-2")})
			if err != nil {
				t.Fatal(err)
			}
			before := readLedger(t, db, alice)
			again, replayed, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID, ReferenceID: ref("job-2")})
			if err != nil || !replayed || !sameTransaction(again.Transaction, first.Transaction) || again.Hold.ID != h.ID {
				t.Fatalf("replay: %v %v %+v", replayed, err, again)
			}
			_, _, err = db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID, ReferenceID: ref("job-2"), Amount: 600})
			if domain.ErrorReason(err) != "idempotency_conflict" {
				t.Fatalf("replay with another amount: %v", err)
			}
			var state *domain.HoldStateError
			_, _, err = db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID})
			if !errors.As(err, &state) || state.Hold.Status != domain.HoldCaptured || domain.ErrorCode(err) != domain.ECONFLICT {
				t.Fatalf("second capture: %v", err)
			}
			if _, _, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: h.ID}); !errors.As(err, &state) {
				t.Fatalf("void of a captured hold: %v", err)
			}
			if after := readLedger(t, db, alice); after != before {
				t.Fatalf("a refused or replayed capture changed the ledger: %+v → %+v", before, after)
			}
		})
		t.Run("a capture reference already used by a plain use is a conflict", func(t *testing.T) {
			apply(t, db, alice, domain.CreditUsed, 1, ref("taken"))
			h := hold(t, db, alice, 100, time.Minute)
			_, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID, ReferenceID: ref("taken")})
			if domain.ErrorReason(err) != "idempotency_conflict" {
				t.Fatalf("got %v", err)
			}
			if v, resolved, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: h.ID}); err != nil || v.Status != domain.HoldVoided || !resolved {
				t.Fatalf("void: %+v %v", v, err)
			}
		})
		t.Run("capture after expiry is refused, and resolves the hold as expired once", func(t *testing.T) {
			before := readLedger(t, db, alice)
			h := hold(t, db, alice, 800, time.Minute)
			clock.Advance(time.Minute)
			var state *domain.HoldStateError
			_, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID})
			if !errors.As(err, &state) || state.Hold.Status != domain.HoldExpired || state.Hold.ResolvedAt == nil || !state.Resolved {
				t.Fatalf("got %v", err)
			}
			if ids, err := db.ExpireHolds(ctx, 10); err != nil || len(ids) != 0 {
				t.Fatalf("the sweeper expired %v again (%v)", ids, err)
			}
			if v, resolved, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: h.ID}); err != nil || v.Status != domain.HoldExpired || resolved {
				t.Fatalf("void of an expired hold: %+v %v", v, err)
			}
			if after := readLedger(t, db, alice); after != before {
				t.Fatalf("%+v → %+v", before, after)
			}
		})
		t.Run("another owner's hold is not found", func(t *testing.T) {
			bob := newLedgerUser(t, db, "bob")
			h := hold(t, db, alice, 100, time.Minute)
			_, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: h.ID, OwnerID: bob})
			if !errors.Is(err, domain.ErrHoldNotFound) {
				t.Fatalf("capture: %v", err)
			}
			if _, _, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: h.ID, OwnerID: bob}); !errors.Is(err, domain.ErrHoldNotFound) {
				t.Fatalf("void: %v", err)
			}
			if _, _, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: 1 << 40}); !errors.Is(err, domain.ErrHoldNotFound) {
				t.Fatalf("void of a missing hold: %v", err)
			}
		})
		t.Run("a hold reference is idempotent", func(t *testing.T) {
			a, replayed, err := db.CreateHold(ctx, &domain.NewHold{UserID: alice, Amount: 200, ExpiresIn: time.Minute, ReferenceID: ref("h-1")})
			if err != nil || replayed {
				t.Fatal(replayed, err)
			}
			b, replayed, err := db.CreateHold(ctx, &domain.NewHold{UserID: alice, Amount: 200, ExpiresIn: time.Minute, ReferenceID: ref("h-1")})
			if err != nil || !replayed || b.ID != a.ID {
				t.Fatalf("repeat: %+v %v %v", b, replayed, err)
			}
			_, _, err = db.CreateHold(ctx, &domain.NewHold{UserID: alice, Amount: 201, ExpiresIn: time.Minute, ReferenceID: ref("h-1")})
			if domain.ErrorReason(err) != "idempotency_conflict" {
				t.Fatalf("other amount: %v", err)
			}
		})
		t.Run("holds are listed newest first, by status, with keyset paging", func(t *testing.T) {
			all, err := db.ListHolds(ctx, domain.HoldQuery{UserID: alice, Limit: 100})
			if err != nil || len(all) < 5 {
				t.Fatalf("%d holds, %v", len(all), err)
			}
			for i := 1; i < len(all); i++ {
				if all[i].ID >= all[i-1].ID {
					t.Fatalf("not newest first: %d then %d", all[i-1].ID, all[i].ID)
				}
			}
			next, err := db.ListHolds(ctx, domain.HoldQuery{UserID: alice, After: all[1].ID, Limit: 2})
			if err != nil || len(next) != 2 || next[0].ID != all[2].ID {
				t.Fatalf("page after %d: %v", all[1].ID, err)
			}
			pending, err := db.ListHolds(ctx, domain.HoldQuery{UserID: alice, Status: domain.HoldPending, Limit: 100})
			if err != nil || len(pending) == 0 {
				t.Fatal(err)
			}
			for _, h := range pending {
				if h.Status != domain.HoldPending {
					t.Fatalf("status filter let %s through", h.Status)
				}
			}
		})
		readLedger(t, db, alice)
	})
}

// TestHoldSchemaInvariants writes around the store to show that the
// database itself refuses what the README promises can never happen.
func TestHoldSchemaInvariants(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		alice := newLedgerUser(t, db, "alice")
		apply(t, db, alice, domain.CreditAdded, 1000, nil)
		h := hold(t, db, alice, 400, time.Minute)
		now := db.Now()
		for _, c := range []struct{ name, sql string }{
			{"available below zero", `UPDATE user_credits SET held = 1001 WHERE user_id = ?`},
			{"negative held", `UPDATE user_credits SET held = -1 WHERE user_id = ?`},
			{"captured more than held", `UPDATE credit_holds SET status = 'captured', captured_amount = 401, resolved_at = created_at WHERE user_id = ?`},
			{"captured without an amount", `UPDATE credit_holds SET status = 'captured', resolved_at = created_at WHERE user_id = ?`},
			{"resolved without a time", `UPDATE credit_holds SET status = 'voided' WHERE user_id = ?`},
			{"pending with a resolution time", `UPDATE credit_holds SET resolved_at = created_at WHERE user_id = ?`},
			{"an unknown status", `UPDATE credit_holds SET status = 'refunded', resolved_at = created_at WHERE user_id = ?`},
			{"a zero hold", `UPDATE credit_holds SET amount = 0 WHERE user_id = ?`},
		} {
			if _, err := db.SQL().Exec(db.SQL().Rebind(c.sql), alice); !store.IsCheckViolation(err) {
				t.Errorf("%s: want a CHECK violation, got %v", c.name, err)
			}
		}
		if _, err := db.SQL().Exec(db.SQL().Rebind(`INSERT INTO credit_holds (user_id, amount, reference_id, created_at, expires_at)
			VALUES (?, 1, 'x', ?, ?), (?, 1, 'x', ?, ?)`), alice, now, now.Add(time.Minute), alice, now, now.Add(time.Minute)); err == nil {
			t.Error("two holds with one reference were stored")
		}
		if got := readLedger(t, db, alice); got.Held != h.Amount {
			t.Fatalf("%+v", got)
		}
		t.Run("deleting the user takes the holds and their transactions along", func(t *testing.T) {
			if _, _, err := db.CaptureHold(context.Background(), &domain.HoldResolution{HoldID: h.ID, Amount: 100}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL().Exec(db.SQL().Rebind(`DELETE FROM users WHERE id = ?`), alice); err != nil {
				t.Fatalf("delete: %v", err)
			}
			var n int
			if err := db.SQL().Get(&n, `SELECT COUNT(*) FROM credit_holds`); err != nil || n != 0 {
				t.Fatalf("%d holds left (%v)", n, err)
			}
		})
	})
}
