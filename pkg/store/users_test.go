package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func newUser(t *testing.T, db *store.DB, username, email string, mail ...*domain.OutboundEmail) *domain.User {
	t.Helper()
	u := &domain.User{Username: username, Email: email, PasswordHash: "$2a$04$hash-of-" + username}
	if err := db.CreateUser(context.Background(), u, mail...); err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

func wantCode(t *testing.T, err error, code, reason string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if reason != "" {
		if got := domain.ErrorReason(err); got != reason {
			t.Fatalf("error reason = %q, want %q", got, reason)
		}
	}
}

// outboxKinds returns kind:recipient for every outbox row, oldest first.
func outboxKinds(t *testing.T, db *store.DB) []string {
	t.Helper()
	var rows []string
	if err := db.SQL().Select(&rows, `SELECT kind || ':' || recipient FROM email_outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestUsers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		welcome := &domain.OutboundEmail{Kind: domain.EmailWelcome, Recipient: "alice@example.com",
			Data: map[string]string{"username": "Alice"}}
		alice := newUser(t, db, "Alice", "Alice@Example.com", welcome)

		t.Run("create sets id, version, lowercased email and queues the mail", func(t *testing.T) {
			if alice.ID == 0 || alice.TokenVersion != 1 || alice.Email != "alice@example.com" {
				t.Fatalf("got %+v", alice)
			}
			if got := outboxKinds(t, db); len(got) != 1 || got[0] != "welcome:alice@example.com" {
				t.Fatalf("outbox = %v", got)
			}
		})
		t.Run("username is unique case-insensitively", func(t *testing.T) {
			err := db.CreateUser(ctx, &domain.User{Username: "ALICE", Email: "other@example.com", PasswordHash: "x"})
			wantCode(t, err, domain.ECONFLICT, "username_taken")
		})
		t.Run("email is unique case-insensitively and a failed create queues nothing", func(t *testing.T) {
			m := &domain.OutboundEmail{Kind: domain.EmailWelcome, Recipient: "x@example.com"}
			err := db.CreateUser(ctx, &domain.User{Username: "bob", Email: "ALICE@example.com", PasswordHash: "x"}, m)
			wantCode(t, err, domain.ECONFLICT, "email_taken")
			if got := outboxKinds(t, db); len(got) != 1 {
				t.Fatalf("outbox = %v", got)
			}
		})
		t.Run("lookups by id, username and email", func(t *testing.T) {
			for name, get := range map[string]func() (*domain.User, error){
				"id":       func() (*domain.User, error) { return db.UserByID(ctx, alice.ID) },
				"username": func() (*domain.User, error) { return db.UserByUsername(ctx, "aLiCe") },
				"email":    func() (*domain.User, error) { return db.UserByEmail(ctx, "ALICE@example.COM") },
			} {
				u, err := get()
				if err != nil || u.ID != alice.ID || u.Username != "Alice" || u.PasswordHash != alice.PasswordHash {
					t.Fatalf("by %s: %+v, %v", name, u, err)
				}
				if u.CreatedAt.Location() != time.UTC || !u.CreatedAt.Equal(alice.CreatedAt) {
					t.Fatalf("by %s: created_at %v, want %v in UTC", name, u.CreatedAt, alice.CreatedAt)
				}
			}
		})
		t.Run("missing user is not found", func(t *testing.T) {
			_, err := db.UserByUsername(ctx, "nobody")
			wantCode(t, err, domain.ENOTFOUND, "user_not_found")
			_, err = db.UserByID(ctx, 9999)
			wantCode(t, err, domain.ENOTFOUND, "")
		})
		bob := newUser(t, db, "bob", "bob@example.com")
		t.Run("list is ordered by id and filters admins", func(t *testing.T) {
			all, err := db.ListUsers(ctx, domain.UserFilter{})
			if err != nil || len(all) != 2 || all[0].ID != alice.ID || all[1].ID != bob.ID {
				t.Fatalf("list = %v, %v", all, err)
			}
			if _, err := db.SetAdmin(ctx, bob.ID, true); err != nil {
				t.Fatal(err)
			}
			admins, err := db.ListUsers(ctx, domain.UserFilter{AdminsOnly: true})
			if err != nil || len(admins) != 1 || admins[0].ID != bob.ID || !admins[0].IsAdmin {
				t.Fatalf("admins = %v, %v", admins, err)
			}
			one, err := db.ListUsers(ctx, domain.UserFilter{Limit: 1})
			if err != nil || len(one) != 1 {
				t.Fatalf("limit 1 = %v, %v", one, err)
			}
		})
		t.Run("update email bumps version, lowercases and notifies in one transaction", func(t *testing.T) {
			notice := &domain.OutboundEmail{Kind: domain.EmailEmailChanged, Recipient: "alice@example.com"}
			u, err := db.UpdateEmail(ctx, alice.ID, "New@Example.com", nil, notice)
			if err != nil || u.Email != "new@example.com" || u.TokenVersion != 2 {
				t.Fatalf("got %+v, %v", u, err)
			}
			got := outboxKinds(t, db)
			if got[len(got)-1] != "email_changed:alice@example.com" {
				t.Fatalf("outbox = %v", got)
			}
		})
		t.Run("update email to a taken one conflicts and changes nothing", func(t *testing.T) {
			before := len(outboxKinds(t, db))
			notice := &domain.OutboundEmail{Kind: domain.EmailEmailChanged, Recipient: "new@example.com"}
			_, err := db.UpdateEmail(ctx, alice.ID, "BOB@example.com", nil, notice)
			wantCode(t, err, domain.ECONFLICT, "email_taken")
			u, _ := db.UserByID(ctx, alice.ID)
			if u.TokenVersion != 2 || u.Email != "new@example.com" || len(outboxKinds(t, db)) != before {
				t.Fatalf("changed: %+v", u)
			}
		})
		t.Run("update password bumps version and retires reset tokens", func(t *testing.T) {
			if _, err := db.CreateResetToken(ctx, alice.ID, "h1", db.Now().Add(time.Hour), 0); err != nil {
				t.Fatal(err)
			}
			u, err := db.UpdatePassword(ctx, alice.ID, "newhash")
			if err != nil || u.PasswordHash != "newhash" || u.TokenVersion != 3 {
				t.Fatalf("got %+v, %v", u, err)
			}
			_, err = db.ConsumeResetToken(ctx, "h1", alice.ID, "other")
			wantCode(t, err, domain.EINVALID, "invalid_token")
		})
		t.Run("updates of a missing user are not found", func(t *testing.T) {
			_, err := db.UpdatePassword(ctx, 9999, "x")
			wantCode(t, err, domain.ENOTFOUND, "")
			_, err = db.SetAdmin(ctx, 9999, true)
			wantCode(t, err, domain.ENOTFOUND, "")
			wantCode(t, db.DeleteUser(ctx, 9999), domain.ENOTFOUND, "")
		})
		t.Run("auth user reads the row, the revocation and the session in one query", func(t *testing.T) {
			now := db.Now()
			if err := db.CreateSession(ctx, &domain.Session{ID: "sess-1", UserID: alice.ID, CreatedAt: now, RefreshedAt: now,
				ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			c, err := db.AuthUser(ctx, alice.ID, "jti-1", "sess-1")
			if err != nil || c.Revoked || !c.SessionAlive || c.User.ID != alice.ID || c.User.TokenVersion != 3 {
				t.Fatalf("got %+v, %v", c, err)
			}
			if err := db.RevokeToken(ctx, "jti-1", db.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if c, err = db.AuthUser(ctx, alice.ID, "jti-1", "sess-1"); err != nil || !c.Revoked {
				t.Fatalf("after revoke: %+v, %v", c, err)
			}
			if c, err = db.AuthUser(ctx, bob.ID, "jti-2", "sess-1"); err != nil || c.SessionAlive {
				t.Fatalf("another user's session counts as alive: %+v, %v", c, err)
			}
			wantCode(t, db.EndSession(ctx, bob.ID, "sess-1"), domain.ENOTFOUND, "session_not_found")
			if err := db.EndSession(ctx, alice.ID, "sess-1"); err != nil {
				t.Fatal(err)
			}
			if c, err = db.AuthUser(ctx, alice.ID, "jti-3", "sess-1"); err != nil || c.SessionAlive {
				t.Fatalf("ended session is alive: %+v, %v", c, err)
			}
		})
		t.Run("delete removes the user", func(t *testing.T) {
			if err := db.DeleteUser(ctx, bob.ID); err != nil {
				t.Fatal(err)
			}
			_, err := db.AuthUser(ctx, bob.ID, "jti", "")
			wantCode(t, err, domain.ENOTFOUND, "")
		})
	})
}

func TestHighestPasswordCost(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if c, err := db.HighestPasswordCost(ctx); err != nil || c != 0 {
			t.Fatalf("without users: %d, %v", c, err)
		}
		newUser(t, db, "four", "four@example.com") // $2a$04$…
		for name, h := range map[string]string{"twelve": "$2b$12$", "nine": "$2y$09$"} {
			u := &domain.User{Username: name, Email: name + "@example.com", PasswordHash: h + "abc"}
			if err := db.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if c, err := db.HighestPasswordCost(ctx); err != nil || c != 12 {
			t.Fatalf("got %d, %v; want 12", c, err)
		}
	})
}
