package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestHoldRaces: 200 concurrent holds of 1.00 on 100.00 (exactly 100
// succeed), then a capture and a void racing on every successful hold.
func TestHoldRaces(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		alice := newLedgerUser(t, db, "alice")
		apply(t, db, alice, domain.CreditAdded, 10000, nil)

		var (
			mu    sync.Mutex
			holds []int64
			wg    sync.WaitGroup
		)
		for range 200 {
			wg.Go(func() {
				h, _, err := db.CreateHold(ctx, &domain.NewHold{UserID: alice, Amount: 100, ExpiresIn: time.Hour})
				if err != nil {
					if domain.ErrorReason(err) != "insufficient_credits" {
						t.Errorf("hold: %v", err)
					}
					return
				}
				mu.Lock()
				holds = append(holds, h.ID)
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(holds) != 100 {
			t.Fatalf("%d of 200 holds succeeded, want 100", len(holds))
		}
		if s := readLedger(t, db, alice); s.Held != 10000 || s.Balance != 10000 {
			t.Fatalf("after the holds: %+v", s)
		}

		var captured, voided, refused sync.Map
		for _, id := range holds {
			wg.Go(func() {
				_, _, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: id, Amount: 60})
				switch {
				case err == nil:
					captured.Store(id, true)
				case errors.As(err, new(*domain.HoldStateError)):
					refused.Store(id, true)
				default:
					t.Errorf("capture %d: %v", id, err)
				}
			})
			wg.Go(func() {
				h, _, err := db.VoidHold(ctx, &domain.HoldResolution{HoldID: id})
				switch {
				case err == nil && h.Status == domain.HoldVoided:
					voided.Store(id, true)
				case errors.As(err, new(*domain.HoldStateError)):
				default:
					t.Errorf("void %d: %+v %v", id, h, err)
				}
			})
		}
		wg.Wait()
		nCaptured := 0
		for _, id := range holds {
			_, c := captured.Load(id)
			_, v := voided.Load(id)
			if c == v {
				t.Errorf("hold %d: captured %v, voided %v", id, c, v)
			}
			if c {
				nCaptured++
			}
		}
		rows, err := db.ListHolds(ctx, domain.HoldQuery{UserID: alice, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range rows {
			if _, c := captured.Load(h.ID); (h.Status == domain.HoldCaptured) != c {
				t.Errorf("hold %d is %s in the database; the capture answered %v", h.ID, h.Status, c)
			}
		}
		s := readLedger(t, db, alice)
		if s.Held != 0 || s.Balance != domain.Cents(10000-60*nCaptured) || s.Transactions != 1+nCaptured {
			t.Fatalf("%d captured; ledger %+v", nCaptured, s)
		}
		t.Logf("%d captured, %d voided", nCaptured, 100-nCaptured)
	})
}

// TestHoldRepeatsRace: concurrent repeats of one hold reference make one
// hold, and concurrent repeats of one capture make one transaction.
func TestHoldRepeatsRace(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		alice := newLedgerUser(t, db, "alice")
		apply(t, db, alice, domain.CreditAdded, 10000, nil)
		var (
			wg         sync.WaitGroup
			holdIDs    sync.Map
			txIDs      sync.Map
			fresh, rep atomic.Int64
		)
		for range 20 {
			wg.Go(func() {
				h, replayed, err := db.CreateHold(ctx, &domain.NewHold{UserID: alice, Amount: 3000, ExpiresIn: time.Hour, ReferenceID: ref("job")})
				if err != nil {
					t.Errorf("hold: %v", err)
					return
				}
				holdIDs.Store(h.ID, true)
				if !replayed {
					fresh.Add(1)
				}
			})
		}
		wg.Wait()
		var id int64
		n := 0
		holdIDs.Range(func(k, _ any) bool { id, n = k.(int64), n+1; return true })
		if n != 1 || fresh.Load() != 1 {
			t.Fatalf("%d holds, %d fresh", n, fresh.Load())
		}
		if s := readLedger(t, db, alice); s.Held != 3000 {
			t.Fatalf("%+v", s)
		}
		fresh.Store(0)
		for range 20 {
			wg.Go(func() {
				c, replayed, err := db.CaptureHold(ctx, &domain.HoldResolution{HoldID: id, Amount: 1000, ReferenceID: ref("job-done")})
				if err != nil {
					t.Errorf("capture: %v", err)
					return
				}
				txIDs.Store(c.Transaction.ID, true)
				if replayed {
					rep.Add(1)
				} else {
					fresh.Add(1)
				}
			})
		}
		wg.Wait()
		n = 0
		txIDs.Range(func(_, _ any) bool { n++; return true })
		if n != 1 || fresh.Load() != 1 || rep.Load() != 19 {
			t.Fatalf("%d transactions, %d fresh, %d replayed", n, fresh.Load(), rep.Load())
		}
		if s := readLedger(t, db, alice); s.Held != 0 || s.Balance != 9000 || s.Transactions != 2 {
			t.Fatalf("%+v", s)
		}
	})
}

// TestHoldExpiryWorkers: holds fall due one second after another while two
// replicas (two pools, three sweeping goroutines each) sweep one PostgreSQL
// database and a client captures some of the holds as they go. Every hold
// leaves pending exactly once: no sweeper reports a hold twice or a hold
// another sweeper reported, no captured hold is also expired, and the held
// totals return to zero.
func TestHoldExpiryWorkers(t *testing.T) {
	url := storetest.PostgresURL(t)
	clock := testkit.NewClock()
	dbs := []*store.DB{storetest.Open(t, url), storetest.Open(t, url)}
	for _, db := range dbs {
		db.SetClock(clock.Now)
	}
	db := dbs[0]
	ctx := context.Background()
	const users, perUser = 8, 60
	var ids, capturable []int64
	for u := range users {
		id := newLedgerUser(t, db, "user"+string(rune('a'+u)))
		apply(t, db, id, domain.CreditAdded, 100000, nil)
		for i := range perUser {
			h := hold(t, db, id, 100, time.Duration(i+1)*time.Second)
			ids = append(ids, h.ID)
			if u == 0 {
				capturable = append(capturable, h.ID)
			}
		}
	}

	var (
		mu       sync.Mutex
		swept    = map[int64]int{}
		captured = map[int64]bool{}
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	for w := range 2 {
		for range 3 {
			wg.Go(func() {
				for {
					got, err := dbs[w].ExpireHolds(ctx, 7)
					if err != nil {
						t.Errorf("replica %d: %v", w, err)
						return
					}
					mu.Lock()
					for _, id := range got {
						swept[id]++
					}
					mu.Unlock()
					if len(got) > 0 {
						continue
					}
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond): // the sweepers' poll interval
					}
				}
			})
		}
	}
	wg.Go(func() { // a client capturing user a's holds, latest expiry first, while they fall due
		for _, id := range slices.Backward(capturable) {
			_, _, err := dbs[1].CaptureHold(ctx, &domain.HoldResolution{HoldID: id, Amount: 50})
			var state *domain.HoldStateError
			switch {
			case err == nil:
				mu.Lock()
				captured[id] = true
				mu.Unlock()
			case errors.As(err, &state) && state.Hold.Status == domain.HoldExpired:
			default:
				t.Errorf("capture %d: %v", id, err)
			}
		}
	})
	for range perUser + 1 {
		clock.Advance(time.Second)
		time.Sleep(5 * time.Millisecond) // let holds fall due while the sweepers run
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var pending int
		if err := db.SQL().Get(&pending, `SELECT COUNT(*) FROM credit_holds WHERE status = 'pending'`); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d holds still pending", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	var rows []struct {
		ID     int64  `db:"id"`
		Status string `db:"status"`
	}
	if err := db.SQL().Select(&rows, `SELECT id, status FROM credit_holds`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		switch {
		case swept[r.ID] > 1:
			t.Errorf("hold %d swept %d times", r.ID, swept[r.ID])
		case captured[r.ID] && (r.Status != "captured" || swept[r.ID] != 0):
			t.Errorf("hold %d captured, but %s and swept %d times", r.ID, r.Status, swept[r.ID])
		case !captured[r.ID] && r.Status != "expired":
			t.Errorf("hold %d is %s", r.ID, r.Status)
		}
	}
	if len(rows) != len(ids) || len(swept) < len(ids)-len(capturable) {
		t.Fatalf("%d holds, %d captured, %d swept", len(rows), len(captured), len(swept))
	}
	var held int64
	if err := db.SQL().Get(&held, `SELECT COALESCE(SUM(held), 0) FROM user_credits`); err != nil || held != 0 {
		t.Fatalf("held %d after expiry (%v)", held, err)
	}
	t.Logf("%d holds: %d swept by the replicas, %d captured, %d expired by a capture",
		len(ids), len(swept), len(captured), len(ids)-len(swept)-len(captured))
}

// TestHoldExpirySweepUsesIndex: on a large PostgreSQL table of holds the
// sweep reads the due holds through the partial index, never a sequential
// scan (every replica sweeps every few seconds).
func TestHoldExpirySweepUsesIndex(t *testing.T) {
	url := storetest.PostgresURL(t)
	db := storetest.Open(t, url)
	sq := db.SQL()
	ctx := context.Background()
	alice := newLedgerUser(t, db, "alice")
	now := db.Now()
	_, err := sq.Exec(`INSERT INTO user_credits (user_id, balance, held, updated_at) VALUES ($1, 100000, 20000, $2::timestamptz)`, alice, now)
	if err == nil {
		_, err = sq.Exec(`INSERT INTO credit_holds (user_id, amount, status, created_at, expires_at)
			SELECT $1, 1, 'pending', $2::timestamptz, $2::timestamptz + make_interval(secs => g) FROM generate_series(1, 20000) g`, alice, now)
	}
	if err == nil {
		_, err = sq.Exec(`ANALYZE credit_holds`)
	}
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	if err := sq.Select(&plan, `EXPLAIN SELECT id, user_id, amount FROM credit_holds
		WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at, id LIMIT 100 FOR UPDATE SKIP LOCKED`, now.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "credit_holds_due_idx") || strings.Contains(text, "Seq Scan") {
		t.Fatalf("the sweep does not use credit_holds_due_idx:\n%s", text)
	}
	db.SetClock(func() time.Time { return now.Add(10 * time.Second) })
	ids, err := db.ExpireHolds(ctx, 100)
	if err != nil || len(ids) != 10 {
		t.Fatalf("expired %d holds (%v), want the 10 due", len(ids), err)
	}
}
