package store_test

import (
	"context"
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func newTestClock(db *store.DB) *testkit.Clock {
	c := testkit.NewClock()
	db.SetClock(c.Now)
	return c
}

func enqueue(t *testing.T, db *store.DB, n int) []*domain.OutboundEmail {
	t.Helper()
	msgs := make([]*domain.OutboundEmail, n)
	for i := range msgs {
		msgs[i] = &domain.OutboundEmail{Kind: domain.EmailPasswordReset, Recipient: fmt.Sprintf("u%d@example.com", i),
			Data: map[string]string{domain.EmailKeyUsername: fmt.Sprintf("u%d", i), domain.EmailKeyLink: "http://x/reset?token=secret"}}
	}
	if err := db.EnqueueEmails(context.Background(), msgs...); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return msgs
}

func claim(t *testing.T, db *store.DB, limit int) []*domain.OutboundEmail {
	t.Helper()
	got, err := db.ClaimEmails(context.Background(), limit, time.Minute)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return got
}

type outboxState struct {
	Status    string     `db:"status"`
	Data      string     `db:"data"`
	Attempts  int        `db:"attempts"`
	LastError *string    `db:"last_error"`
	SentAt    *time.Time `db:"sent_at"`
}

func rowState(t *testing.T, db *store.DB, id int64) outboxState {
	t.Helper()
	var s outboxState
	err := db.SQL().Get(&s, db.SQL().Rebind(`SELECT status, data, attempts, last_error, sent_at FROM email_outbox WHERE id = ?`), id)
	if err != nil {
		t.Fatalf("read email %d: %v", id, err)
	}
	return s
}

func TestOutboxClaim(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clock := newTestClock(db)
		msgs := enqueue(t, db, 3)

		t.Run("a due email is claimed once with its data and one attempt counted", func(t *testing.T) {
			got := claim(t, db, 2)
			if len(got) != 2 || got[0].ID != msgs[0].ID || got[1].ID != msgs[1].ID {
				t.Fatalf("claimed %+v, want the two oldest", got)
			}
			if got[0].Attempts != 1 || got[0].Data[domain.EmailKeyUsername] != "u0" || got[0].Recipient != "u0@example.com" {
				t.Errorf("claimed %+v, want attempts 1 and u0's data", got[0])
			}
			if want := clock.Now().Add(time.Minute); !got[0].NextAttemptAt.Equal(want) {
				t.Errorf("lease until %v, want %v", got[0].NextAttemptAt, want)
			}
			rest := claim(t, db, 10)
			if len(rest) != 1 || rest[0].ID != msgs[2].ID {
				t.Fatalf("second claim got %d emails, want only the third", len(rest))
			}
			if again := claim(t, db, 10); len(again) != 0 {
				t.Fatalf("leased emails claimed again: %+v", again)
			}
		})

		t.Run("an expired lease makes the email claimable again", func(t *testing.T) {
			clock.Advance(time.Minute + time.Second)
			got := claim(t, db, 10)
			if len(got) != 3 || got[0].Attempts != 2 {
				t.Fatalf("after the lease: got %d emails (first %+v), want 3 at attempt 2", len(got), got)
			}
		})
	})
}

func TestOutboxOutcomes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newTestClock(db)
		enqueue(t, db, 4)
		got := claim(t, db, 4)
		if len(got) != 4 {
			t.Fatalf("claimed %d, want 4", len(got))
		}
		sent, retried, failed, released := got[0], got[1], got[2], got[3]

		t.Run("sent clears the data and stamps sent_at", func(t *testing.T) {
			if err := db.MarkEmailSent(ctx, sent); err != nil {
				t.Fatal(err)
			}
			s := rowState(t, db, sent.ID)
			if s.Status != "sent" || s.Data != "{}" || s.SentAt == nil || !s.SentAt.UTC().Equal(clock.Now()) {
				t.Errorf("row %+v, want sent, data {}, sent_at now", s)
			}
		})

		t.Run("a second outcome for the same claim is a lost lease", func(t *testing.T) {
			err := db.MarkEmailSent(ctx, sent)
			if domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("second mark: got %v, want ECONFLICT", err)
			}
		})

		t.Run("retry keeps the error and is due only after the delay", func(t *testing.T) {
			if err := db.RetryEmail(ctx, retried, 10*time.Second, "451 try later"); err != nil {
				t.Fatal(err)
			}
			if s := rowState(t, db, retried.ID); s.Status != "pending" || s.LastError == nil || *s.LastError != "451 try later" {
				t.Errorf("row %+v, want pending with last_error", s)
			}
			if c := claim(t, db, 10); len(c) != 0 {
				t.Fatalf("claimed %d before the delay, want none", len(c))
			}
			clock.Advance(10 * time.Second)
			c := claim(t, db, 10)
			if len(c) != 1 || c[0].ID != retried.ID || c[0].Attempts != 2 {
				t.Fatalf("after the delay claimed %+v, want the retried email at attempt 2", c)
			}
		})

		t.Run("failed clears the data and is never claimed again", func(t *testing.T) {
			if err := db.FailEmail(ctx, failed, "boom"); err != nil {
				t.Fatal(err)
			}
			if s := rowState(t, db, failed.ID); s.Status != "failed" || s.Data != "{}" || *s.LastError != "boom" {
				t.Errorf("row %+v, want failed, data {}, last_error boom", s)
			}
			clock.Advance(time.Hour)
			for _, e := range claim(t, db, 10) {
				if e.ID == failed.ID || e.ID == sent.ID {
					t.Errorf("email %d claimed after its final outcome", e.ID)
				}
			}
		})

		t.Run("release returns the email due now without counting the attempt", func(t *testing.T) {
			clock.Advance(time.Hour)
			c := claim(t, db, 10)
			var mine *domain.OutboundEmail
			for _, e := range c {
				if e.ID == released.ID {
					mine = e
				}
			}
			if mine == nil {
				t.Fatalf("email %d not claimable after its lease", released.ID)
			}
			attempts := mine.Attempts
			if err := db.ReleaseEmail(ctx, mine); err != nil {
				t.Fatal(err)
			}
			again := claim(t, db, 10)
			if len(again) != 1 || again[0].ID != released.ID || again[0].Attempts != attempts {
				t.Fatalf("after release claimed %+v, want email %d at attempt %d", again, released.ID, attempts)
			}
		})
	})
}

func TestOutboxUndecodableDataFailsAtOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := db.Now()
		var id int64
		err := db.SQL().QueryRowx(db.SQL().Rebind(`INSERT INTO email_outbox (kind, recipient, data, status, attempts, next_attempt_at, created_at)
			VALUES ('welcome', 'x@example.com', 'not json', 'pending', 0, ?, ?) RETURNING id`), now, now).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		if got := claim(t, db, 10); len(got) != 0 {
			t.Fatalf("claimed %+v, want the broken row left out", got)
		}
		if s := rowState(t, db, id); s.Status != "failed" || s.LastError == nil {
			t.Errorf("row %+v, want failed with an error", s)
		}
	})
}

func TestOutboxStats(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := newTestClock(db)
		if depth, oldest, err := db.OutboxStats(ctx); err != nil || depth != 0 || oldest != 0 {
			t.Fatalf("empty queue: got %d, %v, %v; want 0, 0, nil", depth, oldest, err)
		}
		enqueue(t, db, 2)
		clock.Advance(90 * time.Second)
		enqueue(t, db, 1)
		clock.Advance(10 * time.Second)
		got := claim(t, db, 1)
		if err := db.MarkEmailSent(ctx, got[0]); err != nil {
			t.Fatal(err)
		}
		depth, oldest, err := db.OutboxStats(ctx)
		if err != nil || depth != 2 || oldest != 100*time.Second {
			t.Errorf("got depth %d, oldest %v, err %v; want 2, 1m40s, nil", depth, oldest, err)
		}
	})
}

func TestOutboxConcurrentClaimersNeverShareARow(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		const total, claimers = 200, 6
		enqueue(t, db, total)
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		errs := make(chan error, claimers)
		for range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := db.ClaimEmails(context.Background(), 7, time.Hour)
					if err != nil {
						errs <- err
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, e := range got {
						seen[e.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("claim: %v", err)
		}
		if len(seen) != total {
			t.Errorf("claimed %d distinct emails, want %d", len(seen), total)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("email %d claimed %d times", id, n)
			}
		}
	})
}
