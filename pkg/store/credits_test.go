package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// newLedgerUser inserts a bare user row for ledger tests and returns its id.
func newLedgerUser(t testing.TB, db *store.DB, name string) int64 {
	t.Helper()
	now := db.Now()
	var id int64
	err := db.SQL().QueryRowx(db.SQL().Rebind(`INSERT INTO users (username, email, password_hash, is_admin, token_version, created_at, updated_at)
		VALUES (?, ?, 'x', FALSE, 1, ?, ?) RETURNING id`), name, name+"@example.com", now, now).Scan(&id)
	if err != nil {
		t.Fatalf("insert user %s: %v", name, err)
	}
	return id
}

func ref(s string) *string { return &s }

// sameTransaction compares two transactions by value.
func sameTransaction(a, b *domain.Transaction) bool {
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return "=" + *p
	}
	return a.ID == b.ID && a.UserID == b.UserID && a.Amount == b.Amount && a.Type == b.Type && a.NewBalance == b.NewBalance &&
		a.CreatedAt.Equal(b.CreatedAt) && str(a.ReferenceID) == str(b.ReferenceID) && str(a.Description) == str(b.Description)
}

func apply(t testing.TB, db *store.DB, userID int64, typ domain.TransactionType, amount domain.Cents, reference *string) *domain.Transaction {
	t.Helper()
	tx, _, err := db.ApplyCredit(context.Background(), &domain.LedgerEntry{UserID: userID, Type: typ, Amount: amount, ReferenceID: reference})
	if err != nil {
		t.Fatalf("%s %s: %v", typ, amount, err)
	}
	return tx
}

func balanceOf(t testing.TB, db *store.DB, userID int64) domain.Cents {
	t.Helper()
	b, err := db.CreditBalance(context.Background(), userID)
	if err != nil {
		t.Fatalf("balance: %v", err)
	}
	return b.Balance
}

func wantReason(t testing.TB, err error, code, reason string) {
	t.Helper()
	if domain.ErrorCode(err) != code || domain.ErrorReason(err) != reason {
		t.Fatalf("got error %v (code %q reason %q), want %s/%s", err, domain.ErrorCode(err), domain.ErrorReason(err), code, reason)
	}
}

func TestCreditLedger(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := time.Date(2025, 2, 6, 17, 0, 0, 123456000, time.FixedZone("CET", 3600))
		db.SetClock(func() time.Time { return clock })
		alice := newLedgerUser(t, db, "alice")

		t.Run("a user who never had credits has balance 0 dated at creation", func(t *testing.T) {
			b, err := db.CreditBalance(ctx, alice)
			if err != nil || b.Balance != 0 || !b.UpdatedAt.Equal(clock) || b.UpdatedAt.Location() != time.UTC || b.UserID != alice {
				t.Fatalf("got %+v, %v", b, err)
			}
		})
		t.Run("unknown user's balance is not found", func(t *testing.T) {
			_, err := db.CreditBalance(ctx, 999999)
			wantReason(t, err, domain.ENOTFOUND, "user_not_found")
		})
		t.Run("add and use move the balance and return the row", func(t *testing.T) {
			clock = clock.Add(time.Hour)
			added := apply(t, db, alice, domain.CreditAdded, 10050, nil)
			used, replayed, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: alice, Type: domain.CreditUsed,
				Amount: 2525, ReferenceID: ref("purchase_456"), Description: ref("Service purchase")})
			if err != nil || replayed {
				t.Fatalf("use: %v replayed=%v", err, replayed)
			}
			if added.NewBalance != 10050 || used.NewBalance != 7525 || used.ID <= added.ID || added.ReferenceID != nil {
				t.Fatalf("got add %+v use %+v", added, used)
			}
			page, err := db.CreditHistory(ctx, alice, 0, 10, 0)
			if err != nil || page.TotalCount != 2 || len(page.Transactions) != 2 {
				t.Fatalf("history %+v, %v", page, err)
			}
			got := page.Transactions[0]
			if got.ID != used.ID || *got.ReferenceID != "purchase_456" || *got.Description != "Service purchase" ||
				!got.CreatedAt.Equal(clock) || got.CreatedAt.Location() != time.UTC || got.Type != domain.CreditUsed || got.NewBalance != 7525 {
				t.Fatalf("stored %+v, returned %+v", got, used)
			}
			b, _ := db.CreditBalance(ctx, alice)
			if b.Balance != 7525 || !b.UpdatedAt.Equal(clock) {
				t.Fatalf("balance %+v", b)
			}
		})
		t.Run("use beyond the balance is refused and changes nothing", func(t *testing.T) {
			before := balanceOf(t, db, alice)
			_, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: alice, Type: domain.CreditUsed, Amount: before + 1})
			wantReason(t, err, domain.EINVALID, "insufficient_credits")
			if got := balanceOf(t, db, alice); got != before {
				t.Fatalf("balance %s, want %s", got, before)
			}
		})
		t.Run("use without a balance row is insufficient", func(t *testing.T) {
			bob := newLedgerUser(t, db, "bob_norow")
			_, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: bob, Type: domain.CreditUsed, Amount: 1})
			wantReason(t, err, domain.EINVALID, "insufficient_credits")
		})
		t.Run("add to a missing user is not found", func(t *testing.T) {
			_, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: 999999, Type: domain.CreditAdded, Amount: 1})
			wantReason(t, err, domain.ENOTFOUND, "user_not_found")
		})
		t.Run("an add past the balance limit is refused", func(t *testing.T) {
			rich := newLedgerUser(t, db, "rich")
			apply(t, db, rich, domain.CreditAdded, 1, nil)
			if _, err := db.SQL().Exec(db.SQL().Rebind(`UPDATE user_credits SET balance = ? WHERE user_id = ?`), int64(domain.MaxBalance-1), rich); err != nil {
				t.Fatal(err)
			}
			_, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: rich, Type: domain.CreditAdded, Amount: 2})
			wantReason(t, err, domain.EINVALID, "balance_limit")
			if tx := apply(t, db, rich, domain.CreditAdded, 1, nil); tx.NewBalance != domain.MaxBalance {
				t.Fatalf("new balance %s", tx.NewBalance)
			}
		})
	})
}

func TestCreditIdempotency(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		alice, bob := newLedgerUser(t, db, "alice"), newLedgerUser(t, db, "bob")

		t.Run("a repeat returns the original and changes nothing", func(t *testing.T) {
			first := apply(t, db, alice, domain.CreditAdded, 5000, ref("order_1"))
			again, replayed, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: alice, Type: domain.CreditAdded,
				Amount: 5000, ReferenceID: ref("order_1"), Description: ref("ignored")})
			if err != nil || !replayed || !sameTransaction(again, first) || again.Description != nil {
				t.Fatalf("repeat %+v replayed=%v err=%v, first %+v", again, replayed, err, first)
			}
			if got := balanceOf(t, db, alice); got != 5000 {
				t.Fatalf("balance %s, want 50.0", got)
			}
		})
		t.Run("the same key with another amount is a conflict", func(t *testing.T) {
			_, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: alice, Type: domain.CreditAdded, Amount: 5001, ReferenceID: ref("order_1")})
			wantReason(t, err, domain.ECONFLICT, "idempotency_conflict")
		})
		t.Run("another user and another type may reuse the key", func(t *testing.T) {
			if tx := apply(t, db, bob, domain.CreditAdded, 5000, ref("order_1")); tx.UserID != bob || tx.NewBalance != 5000 {
				t.Fatalf("bob's add %+v", tx)
			}
			if tx := apply(t, db, alice, domain.CreditUsed, 100, ref("order_1")); tx.NewBalance != 4900 {
				t.Fatalf("alice's use %+v", tx)
			}
		})
		t.Run("a repeated use returns the original even when the balance is now too small", func(t *testing.T) {
			first := apply(t, db, bob, domain.CreditUsed, 5000, ref("spend_all"))
			again := apply(t, db, bob, domain.CreditUsed, 5000, ref("spend_all"))
			if again.ID != first.ID || balanceOf(t, db, bob) != 0 {
				t.Fatalf("first %+v again %+v", first, again)
			}
		})
		for _, typ := range []domain.TransactionType{domain.CreditAdded, domain.CreditUsed} {
			t.Run(fmt.Sprintf("10 concurrent %s with one key make one row", typ), func(t *testing.T) {
				user := newLedgerUser(t, db, "conc_"+string(typ))
				apply(t, db, user, domain.CreditAdded, 150, nil) // enough for exactly one use of 1.50
				var wg sync.WaitGroup
				ids := make([]int64, 10)
				errs := make([]error, 10)
				for i := range ids {
					wg.Go(func() {
						tx, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: user, Type: typ, Amount: 150, ReferenceID: ref("same")})
						if err == nil {
							ids[i] = tx.ID
						}
						errs[i] = err
					})
				}
				wg.Wait()
				for i := range ids {
					if errs[i] != nil || ids[i] != ids[0] {
						t.Fatalf("response %d: id %d err %v; first id %d", i, ids[i], errs[i], ids[0])
					}
				}
				page, err := db.CreditHistory(ctx, user, 0, 50, 0)
				if err != nil || page.TotalCount != 2 {
					t.Fatalf("history %+v %v, want the setup add plus one row", page, err)
				}
				want := domain.Cents(300)
				if typ == domain.CreditUsed {
					want = 0
				}
				if got := balanceOf(t, db, user); got != want {
					t.Fatalf("balance %s, want %s", got, want)
				}
			})
		}
	})
}

func TestCreditConcurrentUseNeverOverdraws(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for run := 1; run <= 5; run++ {
			user := newLedgerUser(t, db, fmt.Sprintf("hot%d", run))
			apply(t, db, user, domain.CreditAdded, 100_00, nil)
			var wg sync.WaitGroup
			errs := make([]error, 200)
			for i := range errs {
				wg.Go(func() {
					tx, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: user, Type: domain.CreditUsed, Amount: 100})
					if err == nil && tx.NewBalance < 0 {
						err = fmt.Errorf("negative balance %s", tx.NewBalance)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			ok, refused := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case domain.ErrorReason(err) == "insufficient_credits":
					refused++
				default:
					t.Fatalf("run %d: unexpected error %v", run, err)
				}
			}
			var used int
			if err := db.SQL().Get(&used, db.SQL().Rebind(`SELECT COUNT(*) FROM credit_transactions WHERE user_id = ? AND transaction_type = 'credit_used'`), user); err != nil {
				t.Fatal(err)
			}
			if ok != 100 || refused != 100 || used != 100 || balanceOf(t, db, user) != 0 {
				t.Fatalf("run %d: %d succeeded, %d refused, %d rows, balance %s; want 100, 100, 100, 0",
					run, ok, refused, used, balanceOf(t, db, user))
			}
			// The history is numbered 1..101 in commit order, each balance
			// the one before it minus the debit: no row was numbered from a
			// snapshot older than the balance row's lock.
			all := readAll(t, db, user, 50)
			for i, tx := range all { // newest first
				if want := int64(len(all) - i); tx.Seq != want {
					t.Fatalf("run %d: row %d has seq %d, want %d", run, tx.ID, tx.Seq, want)
				}
				if i > 0 && tx.Type == domain.CreditUsed && all[i-1].NewBalance != tx.NewBalance-all[i-1].Amount {
					t.Fatalf("run %d: balance after seq %d is %s, after seq %d %s", run, tx.Seq, tx.NewBalance, all[i-1].Seq, all[i-1].NewBalance)
				}
			}
		}
	})
}

func TestCreditRandomTrafficBalancesAddUp(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		users := make([]int64, 5)
		for i := range users {
			users[i] = newLedgerUser(t, db, fmt.Sprintf("rnd%d", i))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for g := range 50 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 42))
				for range 40 {
					e := &domain.LedgerEntry{UserID: users[rng.IntN(len(users))], Type: domain.CreditAdded,
						Amount: domain.Cents(1 + rng.IntN(500))}
					if rng.IntN(2) == 0 {
						e.Type = domain.CreditUsed
					}
					tx, _, err := db.ApplyCredit(ctx, e)
					if err != nil && domain.ErrorReason(err) != "insufficient_credits" {
						errs <- err
						return
					}
					if err == nil && tx.NewBalance < 0 {
						errs <- fmt.Errorf("negative balance %s in %+v", tx.NewBalance, tx)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for _, u := range users {
			var sum domain.Cents
			all := readAll(t, db, u, 200)
			for i := len(all) - 1; i >= 0; i-- { // oldest first
				tx := all[i]
				if tx.Type == domain.CreditAdded {
					sum += tx.Amount
				} else {
					sum -= tx.Amount
				}
				if tx.NewBalance != sum {
					t.Fatalf("user %d: transaction %d has new_balance %s, running sum %s", u, tx.ID, tx.NewBalance, sum)
				}
			}
			if got := balanceOf(t, db, u); got != sum {
				t.Fatalf("user %d: balance %s, history sums to %s", u, got, sum)
			}
		}
	})
}

// readAll pages through a user's whole history, newest first.
func readAll(t testing.TB, db *store.DB, userID int64, pageSize int) []*domain.Transaction {
	t.Helper()
	var all []*domain.Transaction
	for skip := 0; ; skip += pageSize {
		page, err := db.CreditHistory(context.Background(), userID, skip, pageSize, 0)
		if err != nil {
			t.Fatalf("history at %d: %v", skip, err)
		}
		all = append(all, page.Transactions...)
		if len(page.Transactions) < pageSize {
			if int64(len(all)) != page.TotalCount {
				t.Fatalf("read %d rows, total_count %d", len(all), page.TotalCount)
			}
			return all
		}
	}
}

// readAllByCursor pages through a user's whole history with next_cursor,
// checking that no row comes back twice and the order is newest first.
func readAllByCursor(t testing.TB, db *store.DB, userID int64, pageSize int) []*domain.Transaction {
	t.Helper()
	var all []*domain.Transaction
	seen := map[int64]bool{}
	var before int64
	for {
		page, err := db.CreditHistory(context.Background(), userID, 0, pageSize, before)
		if err != nil {
			t.Fatalf("history before %d: %v", before, err)
		}
		for _, tx := range page.Transactions {
			if seen[tx.ID] || (len(all) > 0 && tx.ID >= all[len(all)-1].ID) {
				t.Fatalf("row %d repeated or out of order", tx.ID)
			}
			seen[tx.ID] = true
			all = append(all, tx)
		}
		if page.NextCursor == nil {
			return all
		}
		before = mustCursor(t, *page.NextCursor)
	}
}

// mustCursor reads a next_cursor the way the service does.
func mustCursor(t testing.TB, cursor string) int64 {
	t.Helper()
	var v domain.Validator
	before := domain.HistoryQuery{Limit: 1, Cursor: cursor}.Validate(&v)
	if err := v.Err(); err != nil || before <= 0 {
		t.Fatalf("cursor %q: %v", cursor, err)
	}
	return before
}

// Paging by cursor while the same user's rows are being written: every row
// that existed when the walk started comes back exactly once, new rows never
// push old ones onto a second page.
func TestCreditHistoryCursorUnderConcurrentWrites(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		user := newLedgerUser(t, db, "busy")
		for range 300 {
			apply(t, db, user, domain.CreditAdded, 1, nil)
		}
		existing := readAll(t, db, user, 1000)
		stop := make(chan struct{})
		writerDone := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					writerDone <- n
					return
				default:
				}
				if _, _, err := db.ApplyCredit(context.Background(), &domain.LedgerEntry{UserID: user,
					Type: domain.CreditAdded, Amount: 1}); err != nil {
					t.Errorf("concurrent add: %v", err)
				}
				n++
			}
		}()
		var walked []*domain.Transaction
		var before int64
		for first := true; first || before > 0; first = false {
			page, err := db.CreditHistory(context.Background(), user, 0, 7, before)
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, page.Transactions...)
			before = 0
			if page.NextCursor != nil {
				before = mustCursor(t, *page.NextCursor)
			}
		}
		close(stop)
		written := <-writerDone
		if written == 0 {
			t.Log("the writer wrote nothing during the walk (a slow machine); the walk is still checked")
		}
		seen := map[int64]int{}
		for i, tx := range walked {
			seen[tx.ID]++
			if seen[tx.ID] > 1 || (i > 0 && tx.ID >= walked[i-1].ID) {
				t.Fatalf("row %d repeated or out of order", tx.ID)
			}
		}
		for _, tx := range existing {
			if seen[tx.ID] != 1 {
				t.Fatalf("row %d that existed before the walk came back %d times", tx.ID, seen[tx.ID])
			}
		}
		if got := readAll(t, db, user, 200); len(got) != 300+written {
			t.Fatalf("history has %d rows, want %d", len(got), 300+written)
		}
	})
}

func TestCreditHistoryPaging(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		user, other := newLedgerUser(t, db, "pager"), newLedgerUser(t, db, "other")
		apply(t, db, other, domain.CreditAdded, 1, nil)
		tx := db.SQL().MustBegin()
		now := db.Now()
		for i := 1; i <= 1000; i++ {
			tx.MustExec(tx.Rebind(`INSERT INTO credit_transactions (user_id, amount, transaction_type, balance_after, created_at, seq)
				VALUES (?, ?, 'credit_added', ?, ?, ?)`), user, i, i*(i+1)/2, now, i)
		}
		tx.MustExec(tx.Rebind(`INSERT INTO user_credits (user_id, balance, updated_at) VALUES (?, ?, ?)`), user, 1000*1001/2, now)
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}

		t.Run("1000 rows read 100 at a time come back once each, newest first", func(t *testing.T) {
			all := readAll(t, db, user, 100)
			if len(all) != 1000 {
				t.Fatalf("got %d rows", len(all))
			}
			seen := map[int64]bool{}
			for i, tx := range all {
				if seen[tx.ID] || tx.UserID != user || (i > 0 && tx.ID >= all[i-1].ID) {
					t.Fatalf("row %d (id %d) repeated, foreign or out of order", i, tx.ID)
				}
				seen[tx.ID] = true
			}
			if all[0].Amount != 1000 || all[999].Amount != 1 {
				t.Fatalf("first %s last %s, want newest (10.0) first", all[0].Amount, all[999].Amount)
			}
		})
		t.Run("a deep page is the right slice, and its cursor continues it", func(t *testing.T) {
			page, err := db.CreditHistory(ctx, user, 900, 10, 0)
			if err != nil || len(page.Transactions) != 10 || page.TotalCount != 1000 {
				t.Fatalf("got %+v, %v", page, err)
			}
			if first, last := page.Transactions[0].Amount, page.Transactions[9].Amount; first != 100 || last != 91 {
				t.Fatalf("skip 900: amounts %s..%s, want 1.0..0.91", first, last)
			}
			if page.NextCursor == nil {
				t.Fatal("a full page with older rows has no next_cursor")
			}
			next, err := db.CreditHistory(ctx, user, 0, 10, mustCursor(t, *page.NextCursor))
			if err != nil || len(next.Transactions) != 10 || next.Transactions[0].Amount != 90 || next.TotalCount != 1000 {
				t.Fatalf("after the cursor: %+v, %v", next, err)
			}
		})
		t.Run("1000 rows read by cursor come back once each, and the last page has no cursor", func(t *testing.T) {
			all := readAllByCursor(t, db, user, 64)
			if len(all) != 1000 || all[0].Amount != 1000 || all[999].Amount != 1 {
				t.Fatalf("got %d rows", len(all))
			}
		})
		t.Run("a page past the end is empty but keeps the total", func(t *testing.T) {
			page, err := db.CreditHistory(ctx, user, 5000, 10, 0)
			if err != nil || len(page.Transactions) != 0 || page.TotalCount != 1000 || page.Transactions == nil {
				t.Fatalf("got %+v, %v", page, err)
			}
		})
		t.Run("a user without transactions has an empty list", func(t *testing.T) {
			page, err := db.CreditHistory(ctx, newLedgerUser(t, db, "empty"), 0, 10, 0)
			if err != nil || len(page.Transactions) != 0 || page.TotalCount != 0 || page.Transactions == nil {
				t.Fatalf("got %+v, %v", page, err)
			}
		})
	})
}

// The history migration numbers the rows that exist before it: each user's
// rows 1…n in the order they were written, and new rows go on from there;
// rows the previous release inserts without a number (a rolling upgrade) are
// numbered too; and on PostgreSQL, whose migration copies the ledger into a
// new table, the grants on it survive.
func TestHistoryMigrationNumbersExistingRows(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		states, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		back := 0 // the history migration and every later one
		for i, s := range states {
			if strings.Contains(s.ID, "history_seq") {
				back = len(states) - i
			}
		}
		if back == 0 {
			t.Fatal("no history_seq migration")
		}
		alice, bob := newLedgerUser(t, db, "alice_mig"), newLedgerUser(t, db, "bob_mig")
		var aliceRows []*domain.Transaction
		for i := 1; i <= 3; i++ { // interleaved, as real traffic is
			aliceRows = append(aliceRows, apply(t, db, alice, domain.CreditAdded, domain.Cents(i), nil))
			apply(t, db, bob, domain.CreditAdded, domain.Cents(i), nil)
		}
		role := ""
		if db.Dialect == store.Postgres {
			role = fmt.Sprintf("authsvc_test_app_%d", time.Now().UnixNano())
			db.SQL().MustExec(`CREATE ROLE ` + role)
			t.Cleanup(func() {
				db.SQL().Exec(`REVOKE ALL ON credit_transactions FROM ` + role) //nolint:errcheck // the database is dropped anyway
				db.SQL().Exec(`DROP ROLE ` + role)                              //nolint:errcheck // best effort: roles are cluster-wide
			})
			db.SQL().MustExec(`GRANT SELECT, INSERT ON credit_transactions TO ` + role)
		}
		if n, err := db.MigrateDown(ctx, back); err != nil || n != back {
			t.Fatalf("down %d: %d, %v", back, n, err)
		}
		if n, err := db.MigrateUp(ctx); err != nil || n != back {
			t.Fatalf("up: %d, %v", n, err)
		}
		page, err := db.CreditHistory(ctx, alice, 0, 10, 0)
		if err != nil || page.TotalCount != 3 || len(page.Transactions) != 3 {
			t.Fatalf("alice after the migration: %+v, %v", page, err)
		}
		for i, tx := range page.Transactions {
			want := aliceRows[2-i]
			if tx.ID != want.ID || tx.Seq != int64(3-i) {
				t.Fatalf("row %d: id %d seq %d, want id %d seq %d", i, tx.ID, tx.Seq, want.ID, 3-i)
			}
		}
		next := apply(t, db, alice, domain.CreditUsed, 1, nil)
		if next.Seq != 4 {
			t.Fatalf("the next row after the migration has seq %d, want 4", next.Seq)
		}
		if page, err := db.CreditHistory(ctx, bob, 1, 10, 0); err != nil || page.TotalCount != 3 || len(page.Transactions) != 2 {
			t.Fatalf("bob after the migration: %+v, %v", page, err)
		}

		t.Run("a row the previous release inserts without seq is numbered", func(t *testing.T) {
			for range 2 {
				db.SQL().MustExec(db.SQL().Rebind(`INSERT INTO credit_transactions
					(user_id, amount, transaction_type, balance_after, created_at) VALUES (?, 1, 'credit_added', 1, ?)`), bob, db.Now())
			}
			page, err := db.CreditHistory(ctx, bob, 0, 2, 0)
			if err != nil || page.TotalCount != 5 || len(page.Transactions) != 2 ||
				page.Transactions[0].Seq != 5 || page.Transactions[1].Seq != 4 {
				t.Fatalf("bob after two old-style inserts: %+v, %v", page, err)
			}
		})
		if role != "" {
			t.Run("grants on the ledger survive the copy", func(t *testing.T) {
				var ok bool
				err := db.SQL().Get(&ok, `SELECT has_table_privilege($1, 'credit_transactions', 'SELECT')
					AND has_table_privilege($1, 'credit_transactions', 'INSERT')
					AND NOT has_table_privilege($1, 'credit_transactions', 'DELETE')`, role)
				if err != nil || !ok {
					t.Fatalf("role %s after the migration: select+insert and not delete = %v, %v", role, ok, err)
				}
			})
		}
	})
}
