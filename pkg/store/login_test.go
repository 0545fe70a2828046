package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func TestLoginStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		alice := newUser(t, db, "Alice", "alice@example.com")
		begin := func(t *testing.T, name string, limit int) *domain.LoginStart {
			t.Helper()
			s, err := db.BeginLogin(ctx, name, limit, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		t.Run("begin counts the attempt and reads the user case-insensitively", func(t *testing.T) {
			s := begin(t, "alice", 5)
			if s.Refused || s.Failures != 1 || s.User == nil || s.User.ID != alice.ID ||
				s.User.PasswordHash != alice.PasswordHash || s.User.Username != "Alice" || s.MFAEnabled {
				t.Fatalf("start = %+v, user %+v", s, s.User)
			}
			if !s.User.CreatedAt.Equal(alice.CreatedAt) || s.User.EmailVerifiedAt != nil {
				t.Fatalf("user = %+v, want %+v", s.User, alice)
			}
		})
		t.Run("an unknown name is counted and has no user", func(t *testing.T) {
			if s := begin(t, "nobody", 5); s.Refused || s.Failures != 1 || s.User != nil {
				t.Fatalf("start = %+v", s)
			}
		})
		t.Run("over the limit the attempt is refused without the user", func(t *testing.T) {
			begin(t, "alice", 2)
			if s := begin(t, "alice", 2); !s.Refused || s.User != nil || s.WindowEnd.IsZero() {
				t.Fatalf("start = %+v", s)
			}
		})
		t.Run("a confirmed second factor is reported", func(t *testing.T) {
			bob := newUser(t, db, "bob", "bob@example.com")
			if err := db.PutTOTP(ctx, bob.ID, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
			if s := begin(t, "bob", 5); s.MFAEnabled {
				t.Fatal("an unconfirmed enrolment counts as a second factor")
			}
			if err := db.ConfirmTOTP(ctx, bob.ID, 1, []string{"h1"}); err != nil {
				t.Fatal(err)
			}
			if s := begin(t, "bob", 5); !s.MFAEnabled || s.User == nil || s.User.ID != bob.ID {
				t.Fatalf("start = %+v", s)
			}
		})
		t.Run("finish writes the session, the rehash and the audit event, and clears the count", func(t *testing.T) {
			now := db.Now()
			sess := &domain.Session{ID: "login-1", UserID: alice.ID, CreatedAt: now, RefreshedAt: now,
				ExpiresAt: now.Add(time.Hour), ClientIP: "192.0.2.1", UserAgent: "test"}
			ev := &domain.AuditEvent{Event: domain.AuditLoginSucceeded, ActorID: alice.ID, TargetID: alice.ID}
			err := db.FinishLogin(domain.WithAudit(ctx, ev), &domain.LoginFinish{ClearFailures: "alice", Session: sess,
				Rehash: &domain.Rehash{UserID: alice.ID, OldHash: alice.PasswordHash, NewHash: "$2a$10$new"}})
			if err != nil {
				t.Fatal(err)
			}
			if s := begin(t, "alice", 2); s.Refused || s.Failures != 1 || s.User.PasswordHash != "$2a$10$new" {
				t.Fatalf("after finish: %+v, hash %q", s, s.User.PasswordHash)
			}
			if got, err := db.Sessions(ctx, alice.ID); err != nil || len(got) != 1 || got[0].ID != "login-1" || got[0].ClientIP != "192.0.2.1" {
				t.Fatalf("sessions = %+v, %v", got, err)
			}
			events, err := db.AuditEvents(ctx, domain.AuditFilter{UserID: alice.ID, Event: domain.AuditLoginSucceeded, Limit: 10})
			if err != nil || len(events) != 1 || events[0].ID == 0 || events[0].ID != ev.ID {
				t.Fatalf("audit = %+v (event id %d), %v", events, ev.ID, err)
			}
		})
		t.Run("a rehash loses to a changed hash", func(t *testing.T) {
			err := db.FinishLogin(ctx, &domain.LoginFinish{
				Rehash: &domain.Rehash{UserID: alice.ID, OldHash: alice.PasswordHash, NewHash: "$2a$12$stale"}})
			if err != nil {
				t.Fatal(err)
			}
			if u, _ := db.UserByID(ctx, alice.ID); u.PasswordHash != "$2a$10$new" {
				t.Fatalf("hash = %q", u.PasswordHash)
			}
		})
		t.Run("finish stores the challenge of a second factor", func(t *testing.T) {
			now := db.Now()
			c := &domain.MFAChallenge{TokenHash: "challenge-1", UserID: alice.ID, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			if err := db.FinishLogin(ctx, &domain.LoginFinish{Challenge: c}); err != nil {
				t.Fatal(err)
			}
			if got, err := db.MFAChallenge(ctx, "challenge-1"); err != nil || got.UserID != alice.ID {
				t.Fatalf("challenge = %+v, %v", got, err)
			}
		})
		t.Run("a deleted user's login writes nothing", func(t *testing.T) {
			carol := newUser(t, db, "carol", "carol@example.com")
			begin(t, "carol", 5)
			if err := db.DeleteUser(ctx, carol.ID); err != nil {
				t.Fatal(err)
			}
			now := db.Now()
			ev := &domain.AuditEvent{Event: domain.AuditLoginSucceeded, ActorID: carol.ID, TargetID: carol.ID}
			err := db.FinishLogin(domain.WithAudit(ctx, ev), &domain.LoginFinish{ClearFailures: "carol",
				Session: &domain.Session{ID: "gone", UserID: carol.ID, CreatedAt: now, RefreshedAt: now, ExpiresAt: now.Add(time.Hour)}})
			wantCode(t, err, domain.ENOTFOUND, "")
			if s := begin(t, "carol", 5); s.Failures != 2 { // the count was not cleared: all or nothing
				t.Fatalf("after a failed finish: %+v", s)
			}
			if events, _ := db.AuditEvents(ctx, domain.AuditFilter{UserID: carol.ID, Event: domain.AuditLoginSucceeded, Limit: 10}); len(events) != 0 {
				t.Fatalf("audit = %+v", events)
			}
		})
		t.Run("record audit writes its events and their ids", func(t *testing.T) {
			a := &domain.AuditEvent{Event: domain.AuditLoginFailed, TargetID: alice.ID}
			b := &domain.AuditEvent{Event: domain.AuditLoginLimited, TargetID: alice.ID}
			if err := db.RecordAudit(ctx, a, b); err != nil {
				t.Fatal(err)
			}
			if a.ID == 0 || b.ID <= a.ID {
				t.Fatalf("ids %d, %d", a.ID, b.ID)
			}
			events, err := db.AuditEvents(ctx, domain.AuditFilter{UserID: alice.ID, Limit: 10})
			if err != nil || len(events) < 3 || events[0].ID != b.ID || events[0].Event != domain.AuditLoginLimited ||
				events[1].ID != a.ID || events[1].Event != domain.AuditLoginFailed {
				t.Fatalf("audit = %+v, %v", events, err)
			}
		})
	})
}

// A refused attempt that waited on the counter's row while another login
// started a new window reports the new window's end (its Retry-After), not
// the end of the old one, which its statement's snapshot still showed.
func TestRefusedLoginSeesTheNewWindow(t *testing.T) {
	db := storetest.Open(t, storetest.PostgresURL(t))
	ctx := context.Background()
	if _, err := db.SQL().Exec(`INSERT INTO login_failures (username, window_start, failures) VALUES ('dave', $1, 5)`,
		db.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	tx, err := db.SQL().Beginx() // a login that starts a new window, full at once
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(`UPDATE login_failures SET window_start = $1, failures = 5 WHERE username = 'dave'`, db.Now()); err != nil {
		t.Fatal(err)
	}
	started := make(chan *domain.LoginStart, 1)
	go func() {
		s, err := db.BeginLogin(ctx, "dave", 5, time.Hour)
		if err != nil {
			t.Error(err)
		}
		started <- s
	}()
	deadline := time.Now().Add(20 * time.Second)
	for { // until BeginLogin waits on the row's lock
		var waiting int
		if err := db.SQL().Get(&waiting, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("BeginLogin never waited on the counter's row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	s := <-started
	if s == nil || !s.Refused || time.Until(s.WindowEnd) < 59*time.Minute {
		t.Fatalf("start = %+v: want refused until about an hour from now", s)
	}
}
