package credits

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// gatedStore holds the first single debit (the one that goes at once) until
// the gate is closed, so that a test can queue debits behind it and know
// exactly which batch they form.
type gatedStore struct {
	*storetest.DB
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (s *gatedStore) ApplyCredit(ctx context.Context, e *domain.LedgerEntry) (*domain.Transaction, bool, error) {
	s.once.Do(func() {
		close(s.entered)
		<-s.gate
	})
	return s.DB.ApplyCredit(ctx, e)
}

func newGated(db *storetest.DB) *gatedStore {
	return &gatedStore{DB: db, gate: make(chan struct{}), entered: make(chan struct{})}
}

// queued reports how many debits wait behind the user's transaction in flight.
func (g *GroupCommit) queued(userID int64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a := g.accounts[userID]; a != nil {
		return len(a.queue)
	}
	return 0
}

// waitQueued polls until n debits of the user are queued.
func waitQueued(t *testing.T, g *GroupCommit, userID int64, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.queued(userID) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d debits queued, want %d", g.queued(userID), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type result struct {
	tx       *domain.Transaction
	replayed bool
	err      error
}

// queueBehind starts a first debit that is held in flight, then queues the
// entries in order behind it; release lets them all run and returns their
// results (the first debit's last).
func queueBehind(t *testing.T, g *GroupCommit, s *gatedStore, first *domain.LedgerEntry, entries []*domain.LedgerEntry) func() []result {
	t.Helper()
	results := make([]result, len(entries)+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		r := &results[len(entries)]
		r.tx, r.replayed, r.err = g.Apply(context.Background(), first)
	})
	<-s.entered
	for i, e := range entries {
		wg.Go(func() {
			r := &results[i]
			r.tx, r.replayed, r.err = g.Apply(context.Background(), e)
		})
		waitQueued(t, g, first.UserID, i+1)
	}
	return func() []result {
		close(s.gate)
		wg.Wait()
		return results
	}
}

func debit(userID int64, amount domain.Cents, reference string) *domain.LedgerEntry {
	e := &domain.LedgerEntry{UserID: userID, Type: domain.CreditUsed, Amount: amount}
	if reference != "" {
		e.ReferenceID = &reference
	}
	return e
}

func fund(t *testing.T, db *storetest.DB, name string, amount domain.Cents) int64 {
	t.Helper()
	u := &domain.User{Username: name, Email: name + "@example.com", PasswordHash: "x"}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.ApplyCredit(context.Background(), &domain.LedgerEntry{UserID: u.ID, Type: domain.CreditAdded, Amount: amount}); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func ledger(t *testing.T, db *storetest.DB, userID int64) (balance domain.Cents, used int, seqs []int64) {
	t.Helper()
	b, err := db.CreditBalance(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	pool := storetest.SQL(t, db)
	if err := pool.Get(&used, pool.Rebind(`SELECT COUNT(*) FROM credit_transactions WHERE user_id = ? AND transaction_type = 'credit_used'`), userID); err != nil {
		t.Fatal(err)
	}
	if err := pool.Select(&seqs, pool.Rebind(`SELECT seq FROM credit_transactions WHERE user_id = ? ORDER BY seq`), userID); err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("seq %v not dense from 1", seqs)
		}
	}
	return b.Balance, used, seqs
}

// TestGroupCommitHotAccount: 200 concurrent debits of 1.00 on a balance of
// 100.00, through two services (two replicas, each with its own queue, on
// one database) — exactly 100 succeed, the balance ends at 0 with 100 rows
// numbered densely, and debits really were batched. Then 40 concurrent
// repeats of one reference across both apply once.
func TestGroupCommitHotAccount(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		m := &countMetrics{}
		replicas := []*Service{
			New(db, Options{GroupCommit: true, MaxBatch: 16, Metrics: m}),
			New(db, Options{GroupCommit: true, MaxBatch: 16, Metrics: m}),
		}
		user := fund(t, db, "hot", 100_00)
		errs := make([]error, 200)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range errs {
			wg.Go(func() {
				<-start
				_, errs[i] = replicas[i%2].Use(context.Background(), user, domain.CreditRequest{Amount: "1.00"})
			})
		}
		close(start)
		wg.Wait()
		ok, refused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case domain.ErrorReason(err) == "insufficient_credits":
				refused++
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		balance, used, seqs := ledger(t, db, user)
		if ok != 100 || refused != 100 || balance != 0 || used != 100 || len(seqs) != 101 {
			t.Fatalf("%d succeeded, %d refused, balance %s, %d debit rows, %d rows; want 100, 100, 0, 100, 101",
				ok, refused, balance, used, len(seqs))
		}
		if m.used() != 100_00 || m.carried() != 200 {
			t.Fatalf("metrics counted %s used and %d ops group-committed, want 100.0 and 200", m.used(), m.carried())
		}
		var batches, debits int64
		for _, r := range replicas {
			n, d := r.GroupCommit().Stats()
			batches, debits = batches+n, debits+d
		}
		t.Logf("%d batches carried %d of 200 debits", batches, debits)
		if batches == 0 {
			t.Fatal("200 concurrent debits of one account formed no batch")
		}

		other := fund(t, db, "repeats", 100_00)
		ids := make([]int64, 40)
		start = make(chan struct{})
		for i := range ids {
			wg.Go(func() {
				<-start
				tx, err := replicas[i%2].Use(context.Background(), other, domain.CreditRequest{Amount: "1.00", ReferenceID: new("dup")})
				if err != nil {
					t.Errorf("repeat %d: %v", i, err)
					return
				}
				ids[i] = tx.ID
			})
		}
		close(start)
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("repeats of one reference returned transactions %v", ids)
			}
		}
		if balance, used, _ := ledger(t, db, other); balance != 99_00 || used != 1 {
			t.Fatalf("repeats: balance %s with %d debits, want 99.0 and 1", balance, used)
		}
	})
}

type countMetrics struct {
	mu  sync.Mutex
	u   domain.Cents
	ops int // debits and holds that group-commit transactions carried
}

func (c *countMetrics) GroupCommit(ops int) { c.mu.Lock(); c.ops += ops; c.mu.Unlock() }
func (c *countMetrics) carried() int        { c.mu.Lock(); defer c.mu.Unlock(); return c.ops }

func (c *countMetrics) Added(domain.Cents)  {}
func (c *countMetrics) Used(a domain.Cents) { c.mu.Lock(); c.u += a; c.mu.Unlock() }
func (c *countMetrics) Refused(string)      {}
func (c *countMetrics) used() domain.Cents  { c.mu.Lock(); defer c.mu.Unlock(); return c.u }

// TestGroupCommitOneBatch: debits queued behind one in flight form one
// batch: repeats of one reference apply once and all return the original,
// and a debit beyond the balance is refused without failing the others.
func TestGroupCommitOneBatch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		s := newGated(db)
		g := NewGroupCommit(s, 16)
		user := fund(t, db, "mixed", 10_00)
		release := queueBehind(t, g, s, debit(user, 1_00, ""), []*domain.LedgerEntry{
			debit(user, 2_00, "r"),   // 0 applied
			debit(user, 50_00, ""),   // 1 insufficient
			debit(user, 2_00, "r"),   // 2 repeat of 0
			debit(user, 3_00, ""),    // 3 applied
			debit(user, 2_00, "r"),   // 4 repeat of 0
			debit(user, 5_00, "r"),   // 5 conflict with 0
			debit(user, 1_00, "new"), // 6 applied
		})
		res := release()
		if b, d := g.Stats(); b != 1 || d != 7 {
			t.Fatalf("%d batches of %d debits, want 1 of 7", b, d)
		}
		for _, i := range []int{0, 3, 6, 7} {
			if res[i].err != nil || res[i].replayed {
				t.Fatalf("debit %d: %+v, want applied", i, res[i])
			}
		}
		if res[0].tx.NewBalance != 7_00 || res[3].tx.NewBalance != 4_00 || res[6].tx.NewBalance != 3_00 {
			t.Fatalf("running balances %s %s %s, want 7 4 3", res[0].tx.NewBalance, res[3].tx.NewBalance, res[6].tx.NewBalance)
		}
		for _, i := range []int{2, 4} {
			if res[i].err != nil || !res[i].replayed || res[i].tx.ID != res[0].tx.ID {
				t.Fatalf("repeat %d: %+v, want the original %d", i, res[i], res[0].tx.ID)
			}
		}
		if domain.ErrorReason(res[1].err) != "insufficient_credits" || domain.ErrorReason(res[5].err) != "idempotency_conflict" {
			t.Fatalf("refusals: %v, %v", res[1].err, res[5].err)
		}
		balance, used, seqs := ledger(t, db, user)
		if balance != 3_00 || used != 4 || len(seqs) != 5 {
			t.Fatalf("balance %s, %d debits, %d rows; want 3.0, 4, 5", balance, used, len(seqs))
		}
		var refRows int
		pool := storetest.SQL(t, db)
		if err := pool.Get(&refRows, pool.Rebind(`SELECT COUNT(*) FROM credit_transactions WHERE user_id = ? AND reference_id = 'r'`), user); err != nil {
			t.Fatal(err)
		}
		if refRows != 1 {
			t.Fatalf("%d rows with reference r, want 1", refRows)
		}
	})
}

// TestGroupCommitDatabaseError: when the batch's transaction fails, every
// debit of the batch gets the error and none is applied; the next batch is
// not affected.
func TestGroupCommitDatabaseError(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		storetest.FailTransactionsWithDescription(t, db, "boom")
		s := newGated(db)
		g := NewGroupCommit(s, 16)
		user := fund(t, db, "failing", 10_00)
		boom := debit(user, 1_00, "")
		boom.Description = new(string)
		*boom.Description = "boom"
		release := queueBehind(t, g, s, debit(user, 1_00, ""), []*domain.LedgerEntry{
			debit(user, 1_00, "a"), debit(user, 1_00, ""), boom, debit(user, 1_00, "b"),
		})
		res := release()
		if res[4].err != nil {
			t.Fatalf("first debit: %v", res[4].err)
		}
		for i, r := range res[:4] {
			if r.err == nil || r.tx != nil || domain.ErrorCode(r.err) != domain.EINTERNAL {
				t.Fatalf("debit %d of the failed batch: %+v, want an internal error and no transaction", i, r)
			}
		}
		balance, used, _ := ledger(t, db, user)
		if balance != 9_00 || used != 1 {
			t.Fatalf("balance %s with %d debits; want 9.0 and 1 (the batch applied nothing)", balance, used)
		}
		// The references of the failed batch are free: a retry applies them.
		tx, replayed, err := g.Apply(context.Background(), debit(user, 1_00, "a"))
		if err != nil || replayed || tx.NewBalance != 8_00 {
			t.Fatalf("retry: %+v %v %v", tx, replayed, err)
		}
	})
}

// TestGroupCommitCallerGoesAway: a queued debit whose caller's context ends
// before its batch starts leaves the queue unapplied.
func TestGroupCommitCallerGoesAway(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		s := newGated(db)
		g := NewGroupCommit(s, 16)
		user := fund(t, db, "leaver", 10_00)
		done := make(chan result, 1)
		go func() {
			tx, replayed, err := g.Apply(context.Background(), debit(user, 1_00, ""))
			done <- result{tx, replayed, err}
		}()
		<-s.entered
		ctx, cancel := context.WithCancel(context.Background())
		left := make(chan error, 1)
		go func() {
			_, _, err := g.Apply(ctx, debit(user, 5_00, "gone"))
			left <- err
		}()
		waitQueued(t, g, user, 1)
		cancel()
		if err := <-left; !errors.Is(err, context.Canceled) {
			t.Fatalf("queued debit after cancel: %v", err)
		}
		if n := g.queued(user); n != 0 {
			t.Fatalf("%d still queued", n)
		}
		close(s.gate)
		if r := <-done; r.err != nil {
			t.Fatal(r.err)
		}
		if balance, used, _ := ledger(t, db, user); balance != 9_00 || used != 1 {
			t.Fatalf("balance %s with %d debits; want 9.0 and 1", balance, used)
		}
		if g.queued(user) != 0 || len(g.accounts) != 0 {
			t.Fatalf("account still tracked: %v", g.accounts)
		}
	})
}

// TestGroupCommitHoldsAndDebits: holds and debits queued behind one in
// flight form one batch, decided in arrival order against the available
// balance; repeats of a hold's reference create it once.
func TestGroupCommitHoldsAndDebits(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		s := newGated(db)
		g := NewGroupCommit(s, 16)
		user := fund(t, db, "holder", 10_00)
		newHold := func(amount domain.Cents, reference string) *domain.NewHold {
			h := &domain.NewHold{UserID: user, Amount: amount, ExpiresIn: time.Hour}
			if reference != "" {
				h.ReferenceID = &reference
			}
			return h
		}
		type res struct {
			hold     *domain.Hold
			tx       *domain.Transaction
			replayed bool
			err      error
		}
		ops := []domain.BatchOp{
			{Hold: newHold(4_00, "h")},     // 0 held 4, available 5 (after the first debit)
			{Debit: debit(user, 3_00, "")}, // 1 applied, available 2
			{Hold: newHold(4_00, "h")},     // 2 repeat of 0
			{Hold: newHold(3_00, "")},      // 3 insufficient
			{Debit: debit(user, 2_00, "")}, // 4 applied, available 0
		}
		results := make([]res, len(ops))
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, _, err := g.Apply(context.Background(), debit(user, 1_00, "")); err != nil {
				t.Errorf("first debit: %v", err)
			}
		})
		<-s.entered
		for i, op := range ops {
			wg.Go(func() {
				r := &results[i]
				if op.Hold != nil {
					r.hold, r.replayed, r.err = g.Hold(context.Background(), op.Hold)
				} else {
					r.tx, r.replayed, r.err = g.Apply(context.Background(), op.Debit)
				}
			})
			waitQueued(t, g, user, i+1)
		}
		close(s.gate)
		wg.Wait()
		if b, n := g.Stats(); b != 1 || n != 5 {
			t.Fatalf("%d batches of %d ops, want 1 of 5", b, n)
		}
		if r := results[0]; r.err != nil || r.replayed || r.hold.ID == 0 {
			t.Fatalf("hold: %+v", r)
		}
		if r := results[2]; r.err != nil || !r.replayed || r.hold.ID != results[0].hold.ID {
			t.Fatalf("repeated hold: %+v", r)
		}
		if results[1].err != nil || results[4].err != nil || results[4].tx.NewBalance != 4_00 {
			t.Fatalf("debits: %+v %+v", results[1], results[4])
		}
		if domain.ErrorReason(results[3].err) != "insufficient_credits" {
			t.Fatalf("hold beyond the available balance: %v", results[3].err)
		}
		b, err := db.CreditBalance(context.Background(), user)
		if err != nil || b.Balance != 4_00 || b.Held != 4_00 || b.Available != 0 {
			t.Fatalf("balance %+v, %v; want 4.0, held 4.0", b, err)
		}
	})
}

// TestGroupCommitServicesShareTheQueue: through the services (Use and
// CreateHold, one GroupCommit), concurrent debits and holds of one account
// never take the available balance below zero and add up; with twice the
// demand of the balance, less than one hold's amount is left.
func TestGroupCommitServicesShareTheQueue(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		svc := New(db, Options{GroupCommit: true, MaxBatch: domain.DefaultGroupCommitMaxBatch})
		holds := NewHolds(db, HoldOptions{GroupCommit: svc.GroupCommit()})
		owner := &domain.User{Username: "shared", Email: "shared@example.com", PasswordHash: "x"}
		if err := db.CreateUser(context.Background(), owner); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.ApplyCredit(context.Background(), &domain.LedgerEntry{UserID: owner.ID, Type: domain.CreditAdded, Amount: 100_00}); err != nil {
			t.Fatal(err)
		}
		var (
			wg         sync.WaitGroup
			mu         sync.Mutex
			used, held domain.Cents
			start      = make(chan struct{})
		)
		for i := range 150 {
			wg.Go(func() {
				<-start
				var err error
				if i%3 == 0 {
					var h *domain.Hold
					h, _, err = holds.CreateHold(context.Background(), owner, domain.HoldRequest{Amount: "2.00"})
					if err == nil {
						mu.Lock()
						held += h.Amount
						mu.Unlock()
					}
				} else {
					_, err = svc.Use(context.Background(), owner.ID, domain.CreditRequest{Amount: "1.00"})
					if err == nil {
						mu.Lock()
						used += 1_00
						mu.Unlock()
					}
				}
				if err != nil && domain.ErrorReason(err) != "insufficient_credits" {
					t.Errorf("op %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		b, err := db.CreditBalance(context.Background(), owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		if b.Balance != 100_00-used || b.Held != held || b.Available < 0 || used+held+b.Available != 100_00 || b.Available >= 2_00 {
			t.Fatalf("balance %+v after %s used and %s held; want the rest available, below one hold", b, used, held)
		}
		batches, ops := svc.GroupCommit().Stats()
		t.Logf("%d batches carried %d of 150 ops", batches, ops)
	})
}
