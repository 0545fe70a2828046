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
