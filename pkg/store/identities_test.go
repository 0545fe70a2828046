package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func TestFederationFlowsAndCodes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := withClock(db)
		alice := newUser(t, db, "alice", "alice@example.com")
		flow := func(t *testing.T, hash string, link int64) {
			t.Helper()
			now := db.Now()
			f := &domain.FederationFlow{StateHash: hash, Provider: "google", Nonce: "n", Verifier: "v", RedirectTo: "https://app.example/cb",
				CodeChallenge: "c", LinkUserID: link, CreatedAt: now, ExpiresAt: now.Add(domain.FederationFlowTTL)}
			if err := db.PutFederationFlow(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("a flow is taken once, with what it was started with", func(t *testing.T) {
			flow(t, "s-1", alice.ID)
			f, err := db.TakeFederationFlow(ctx, "s-1")
			if err != nil || f.LinkUserID != alice.ID || f.Nonce != "n" || f.Verifier != "v" || f.Provider != "google" {
				t.Fatalf("take = %+v, %v", f, err)
			}
			if _, err := db.TakeFederationFlow(ctx, "s-1"); !errors.Is(err, domain.ErrFederationState) {
				t.Fatalf("second take: %v", err)
			}
			flow(t, "s-2", 0)
			if f, err := db.TakeFederationFlow(ctx, "s-2"); err != nil || f.LinkUserID != 0 {
				t.Fatalf("a sign-in flow: %+v, %v", f, err)
			}
		})
		t.Run("a flow of a deleted user dies with it", func(t *testing.T) {
			bob := newUser(t, db, "bob", "bob@example.com")
			flow(t, "s-bob", bob.ID)
			if err := db.DeleteUser(ctx, bob.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := db.TakeFederationFlow(ctx, "s-bob"); !errors.Is(err, domain.ErrFederationState) {
				t.Fatalf("take after the deletion: %v", err)
			}
		})
		t.Run("codes are taken once and expire", func(t *testing.T) {
			now := db.Now()
			x := domain.ExternalIdentity{Provider: "google", Subject: "g-1", Email: "a@example.com", EmailVerified: true, AMR: []string{"pwd"}}
			for _, h := range []string{"c-1", "c-2"} {
				if err := db.PutFederationCode(ctx, &domain.FederationCode{CodeHash: h, CodeChallenge: "ch", Identity: x,
					CreatedAt: now, ExpiresAt: now.Add(domain.FederationCodeTTL)}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := db.TakeFederationCode(ctx, "c-1")
			if err != nil || c.CodeChallenge != "ch" || c.Identity.Subject != "g-1" || !c.Identity.EmailVerified || len(c.Identity.AMR) != 1 {
				t.Fatalf("take = %+v, %v", c, err)
			}
			if _, err := db.TakeFederationCode(ctx, "c-1"); !errors.Is(err, domain.ErrFederationCode) {
				t.Fatalf("second take: %v", err)
			}
			clock.Advance(domain.FederationCodeTTL)
			if _, err := db.TakeFederationCode(ctx, "c-2"); !errors.Is(err, domain.ErrFederationCode) {
				t.Fatalf("take at expiry: %v", err)
			}
		})
		t.Run("the purge deletes expired flows and codes only", func(t *testing.T) {
			flow(t, "s-old", 0)
			clock.Advance(domain.FederationFlowTTL)
			flow(t, "s-new", 0)
			st, err := db.Purge(ctx, time.Hour)
			if err != nil || st.FederationFlows != 1 || st.FederationCodes != 1 {
				t.Fatalf("purge = %+v, %v", st, err)
			}
			if _, err := db.TakeFederationFlow(ctx, "s-new"); err != nil {
				t.Fatalf("the fresh flow was purged: %v", err)
			}
		})
		t.Run("one identity per provider subject", func(t *testing.T) {
			i := &domain.Identity{UserID: alice.ID, Provider: "google", Subject: "g-alice", Email: "alice@example.com"}
			if err := db.LinkIdentity(ctx, i); err != nil || i.ID == 0 {
				t.Fatalf("link: %v", err)
			}
			carol := newUser(t, db, "carol", "carol@example.com")
			if err := db.LinkIdentity(ctx, &domain.Identity{UserID: carol.ID, Provider: "google", Subject: "g-alice"}); !errors.Is(err, domain.ErrIdentityTaken) {
				t.Fatalf("the same subject again: %v", err)
			}
			if err := db.LinkIdentity(ctx, &domain.Identity{UserID: carol.ID, Provider: "github", Subject: "g-alice"}); err != nil {
				t.Fatalf("the same subject at another provider: %v", err)
			}
		})
	})
}

// TestResetClaimsAnUnverifiedAccount: a reset proves the email; when the
// account had not proved it, the ways in added before (passkeys, linked
// identities, links in progress) go and the email is verified; the second
// factor (not a way in) stays. A verified account keeps them all.
func TestResetClaimsAnUnverifiedAccount(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sqlDB := storetest.SQL(t, db)
		ways := func(u *domain.User) (passkeys, identities, flows, totp int) {
			t.Helper()
			for q, n := range map[string]*int{
				`SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = ?`:  &passkeys,
				`SELECT COUNT(*) FROM user_identities WHERE user_id = ?`:       &identities,
				`SELECT COUNT(*) FROM federation_flows WHERE link_user_id = ?`: &flows,
				`SELECT COUNT(*) FROM mfa_totp WHERE user_id = ?`:              &totp,
			} {
				if err := sqlDB.Get(n, sqlDB.Rebind(q), u.ID); err != nil {
					t.Fatal(err)
				}
			}
			return
		}
		equip := func(u *domain.User, n int) {
			t.Helper()
			if err := db.AddPasskey(ctx, &domain.Passkey{UserID: u.ID, CredentialID: []byte{byte(n), 1}, PublicKey: []byte{1}, Name: "k"}); err != nil {
				t.Fatal(err)
			}
			if err := db.LinkIdentity(ctx, &domain.Identity{UserID: u.ID, Provider: "google", Subject: u.Username}); err != nil {
				t.Fatal(err)
			}
			if err := db.PutTOTP(ctx, u.ID, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
			now := db.Now()
			if err := db.PutFederationFlow(ctx, &domain.FederationFlow{StateHash: "link-" + u.Username, Provider: "google", Nonce: "n",
				Verifier: "v", RedirectTo: "https://app.example/", LinkUserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.CreateResetToken(ctx, u.ID, "reset-"+u.Username, db.Now().Add(time.Hour), 0); err != nil {
				t.Fatal(err)
			}
		}
		squatted := newUser(t, db, "squatted", "owner@example.com")
		equip(squatted, 1)
		u, err := db.ConsumeResetToken(ctx, "reset-squatted", squatted.ID, "$2a$04$owner")
		if err != nil || !u.EmailVerified() {
			t.Fatalf("reset: %+v, %v; want the email verified", u, err)
		}
		if p, i, fl, f := ways(squatted); p+i+fl != 0 || f != 1 {
			t.Errorf("after the owner's reset: %d passkeys, %d identities, %d links in progress, %d TOTP factors; want none and the factor",
				p, i, fl, f)
		}

		verified := newUser(t, db, "verified", "verified@example.com")
		if _, err := sqlDB.Exec(sqlDB.Rebind(`UPDATE users SET email_verified_at = ? WHERE id = ?`), db.Now(), verified.ID); err != nil {
			t.Fatal(err)
		}
		equip(verified, 2)
		if _, err := db.ConsumeResetToken(ctx, "reset-verified", verified.ID, "$2a$04$new"); err != nil {
			t.Fatal(err)
		}
		if p, i, fl, f := ways(verified); p != 1 || i != 1 || fl != 1 || f != 1 {
			t.Errorf("a verified account's reset removed ways in: %d passkeys, %d identities, %d links, %d TOTP", p, i, fl, f)
		}
	})
}
