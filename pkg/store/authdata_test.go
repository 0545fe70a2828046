package store_test

import (
	"context"
	"github.com/authsvc/authsvc/internal/testkit"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func withClock(db *store.DB) *testkit.Clock {
	c := testkit.NewClock()
	db.SetClock(c.Now)
	return c
}

func TestRevokeToken(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t.Run("a second revoke of one jti conflicts", func(t *testing.T) {
			if err := db.RevokeToken(ctx, "a", db.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			wantCode(t, db.RevokeToken(ctx, "a", db.Now().Add(time.Hour)), domain.ECONFLICT, "token_revoked")
		})
		t.Run("of 10 concurrent revokes exactly one wins", func(t *testing.T) {
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					err := db.RevokeToken(ctx, "b", db.Now().Add(time.Hour))
					if err == nil {
						wins.Add(1)
					} else if domain.ErrorCode(err) != domain.ECONFLICT {
						t.Errorf("unexpected error: %v", err)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("wins = %d, want 1", wins.Load())
			}
		})
	})
}

func TestResetTokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := withClock(db)
		alice := newUser(t, db, "alice", "alice@example.com")
		mail := func() *domain.OutboundEmail {
			return &domain.OutboundEmail{Kind: domain.EmailPasswordReset, Recipient: "alice@example.com"}
		}
		t.Run("create stores the token and queues the mail", func(t *testing.T) {
			ok, err := db.CreateResetToken(ctx, alice.ID, "h1", db.Now().Add(30*time.Minute), time.Minute, mail())
			if err != nil || !ok {
				t.Fatalf("created=%v, %v", ok, err)
			}
			if got := outboxKinds(t, db); len(got) != 1 || got[0] != "password_reset:alice@example.com" {
				t.Fatalf("outbox = %v", got)
			}
		})
		t.Run("a second request within the interval writes and sends nothing", func(t *testing.T) {
			clock.Advance(59 * time.Second)
			ok, err := db.CreateResetToken(ctx, alice.ID, "h2", db.Now().Add(30*time.Minute), time.Minute, mail())
			if err != nil || ok {
				t.Fatalf("created=%v, %v", ok, err)
			}
			if got := outboxKinds(t, db); len(got) != 1 {
				t.Fatalf("outbox = %v", got)
			}
			_, err = db.ConsumeResetToken(ctx, "h2", alice.ID, "x")
			wantCode(t, err, domain.EINVALID, "invalid_token")
		})
		t.Run("after the interval a new one is created", func(t *testing.T) {
			clock.Advance(2 * time.Second)
			ok, err := db.CreateResetToken(ctx, alice.ID, "h3", db.Now().Add(30*time.Minute), time.Minute, mail())
			if err != nil || !ok || len(outboxKinds(t, db)) != 2 {
				t.Fatalf("created=%v, %v", ok, err)
			}
		})
		t.Run("a token of another user is refused", func(t *testing.T) {
			_, err := db.ConsumeResetToken(ctx, "h3", alice.ID+1, "x")
			wantCode(t, err, domain.EINVALID, "invalid_token")
		})
		t.Run("of 20 concurrent consumes exactly one wins and it kills the older tokens", func(t *testing.T) {
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					u, err := db.ConsumeResetToken(ctx, "h3", alice.ID, "newhash")
					if err == nil {
						wins.Add(1)
						if u.TokenVersion != 2 || u.PasswordHash != "newhash" {
							t.Errorf("user after reset: %+v", u)
						}
					} else if domain.ErrorCode(err) != domain.EINVALID {
						t.Errorf("unexpected error: %v", err)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("wins = %d, want 1", wins.Load())
			}
			_, err := db.ConsumeResetToken(ctx, "h1", alice.ID, "again")
			wantCode(t, err, domain.EINVALID, "invalid_token")
		})
		t.Run("an expired token is refused", func(t *testing.T) {
			clock.Advance(time.Minute)
			if _, err := db.CreateResetToken(ctx, alice.ID, "h4", db.Now().Add(30*time.Minute), time.Minute); err != nil {
				t.Fatal(err)
			}
			clock.Advance(30 * time.Minute)
			_, err := db.ConsumeResetToken(ctx, "h4", alice.ID, "x")
			wantCode(t, err, domain.EINVALID, "invalid_token")
		})
		t.Run("a deleted user gets no token", func(t *testing.T) {
			_, err := db.CreateResetToken(ctx, 9999, "h5", db.Now().Add(time.Minute), time.Minute)
			wantCode(t, err, domain.ENOTFOUND, "")
		})
	})
}

func TestLoginFailuresAndPurge(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := withClock(db)
		start := clock.Now()
		count := func(t *testing.T, name string) domain.LoginAttempt {
			t.Helper()
			a, err := db.CountLoginAttempt(ctx, name, 3, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		t.Run("attempts count within a fixed window, up to the limit", func(t *testing.T) {
			for i := 1; i <= 3; i++ {
				if a := count(t, "alice"); a.Refused || a.Failures != i || !a.WindowEnd.Equal(start.Add(time.Hour)) {
					t.Fatalf("attempt %d: %+v", i, a)
				}
				clock.Advance(10 * time.Minute)
			}
			for range 2 { // refused, and not counted: the window does not move
				if a := count(t, "alice"); !a.Refused || !a.WindowEnd.Equal(start.Add(time.Hour)) {
					t.Fatalf("over the limit: %+v", a)
				}
			}
			if a := count(t, "bob"); a.Refused || a.Failures != 1 {
				t.Fatalf("bob: %+v", a)
			}
		})
		t.Run("a new window starts over", func(t *testing.T) {
			clock.Advance(30 * time.Minute) // start + 60m: the window has ended
			if a := count(t, "alice"); a.Refused || a.Failures != 1 || !a.WindowEnd.Equal(clock.Now().Add(time.Hour)) {
				t.Fatalf("after the window: %+v", a)
			}
		})
		t.Run("clear forgets the failures", func(t *testing.T) {
			count(t, "alice")
			count(t, "alice")
			if err := db.ClearLoginFailures(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			if a := count(t, "alice"); a.Failures != 1 {
				t.Fatalf("after clear: %+v", a)
			}
		})
		t.Run("of 30 concurrent attempts exactly the limit are counted", func(t *testing.T) {
			var counted, refused atomic.Int32
			var wg sync.WaitGroup
			for range 30 {
				wg.Go(func() {
					a, err := db.CountLoginAttempt(ctx, "carol", 5, time.Hour)
					switch {
					case err != nil:
						t.Error(err)
					case a.Refused:
						refused.Add(1)
					default:
						counted.Add(1)
					}
				})
			}
			wg.Wait()
			if counted.Load() != 5 || refused.Load() != 25 {
				t.Fatalf("counted %d, refused %d; want 5 and 25", counted.Load(), refused.Load())
			}
		})
		t.Run("purge deletes only what has expired", func(t *testing.T) {
			u := newUser(t, db, "carol", "carol@example.com")
			now := db.Now()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(db.RevokeToken(ctx, "old", now.Add(time.Minute)))
			must(db.RevokeToken(ctx, "new", now.Add(2*time.Hour)))
			_, err := db.CreateResetToken(ctx, u.ID, "old", now.Add(time.Minute), 0)
			must(err)
			_, err = db.CreateResetToken(ctx, u.ID, "new", now.Add(2*time.Hour), 0)
			must(err)
			count(t, "stale")
			clock.Advance(61 * time.Minute)
			count(t, "fresh")
			st, err := db.Purge(ctx, time.Hour)
			// alice, bob and carol counted in earlier windows too.
			if err != nil || st != (store.PurgeStats{RevokedTokens: 1, ResetTokens: 1, LoginFailures: 4, Sessions: 0}) {
				t.Fatalf("purge = %+v, %v", st, err)
			}
			if c, _ := db.AuthUser(ctx, u.ID, "new", ""); c == nil || !c.Revoked {
				t.Fatal("unexpired revocation was purged")
			}
			if a := count(t, "fresh"); a.Failures != 2 {
				t.Fatalf("fresh failures = %+v, want 2 (purged?)", a)
			}
		})
	})
}
