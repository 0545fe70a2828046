package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestOIDCRequestLifecycle: a request is signed in once, gets its code
// once, the code is redeemed once (with the user), and the janitor prunes
// the request a day after the code expired, and tokens once both their
// access and refresh lifetimes are over.
func TestOIDCRequestLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := newUser(t, db, "oidcuser", "oidcuser@example.com")
		now := time.Now().UTC().Truncate(time.Microsecond)
		c := &domain.OIDCClient{ID: "client1", Name: "App", RedirectURIs: []string{"https://app.example/cb"},
			Grants: domain.DefaultOIDCGrants, Scopes: domain.DefaultOIDCScopes, IDTokenAlg: "RS256", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateOIDCClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		r := &domain.OIDCRequest{ID: "req1", ClientID: c.ID, RedirectURI: c.RedirectURIs[0], Scopes: []string{"openid"},
			ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := db.CreateOIDCRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := db.SetOIDCCode(ctx, "req1", "h1", now.Add(time.Minute)); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("a code before the sign-in: %v", err)
		}
		s := domain.BrowserSignIn{UserID: u.ID, SessionID: "sess", AuthTime: now, AMR: []string{"pwd"}}
		if err := db.CompleteOIDCRequest(ctx, "req1", s, now); err != nil {
			t.Fatal(err)
		}
		if err := db.CompleteOIDCRequest(ctx, "req1", s, now); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("completed twice: %v", err)
		}
		if err := db.SetOIDCCode(ctx, "req1", "h1", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.SetOIDCCode(ctx, "req1", "h2", now.Add(time.Minute)); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("a second code: %v", err)
		}
		got, err := db.RedeemOIDCCode(ctx, "h1", now)
		if err != nil || got.UserID != u.ID || got.User == nil || got.User.Username != "oidcuser" || got.AMR[0] != "pwd" {
			t.Fatalf("redeemed %+v %v", got, err)
		}
		tok := &domain.OIDCToken{ID: "at1", FamilyID: "at1", ClientID: c.ID, UserID: u.ID, RequestID: "req1",
			Scopes: []string{"openid"}, TokenVersion: u.TokenVersion, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := db.CreateOIDCToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RedeemOIDCCode(ctx, "h1", now); err != domain.ErrOIDCCodeReplayed { //nolint:errorlint // the sentinel itself
			t.Fatalf("a replay: %v", err)
		}
		if _, err := db.OIDCTokenByID(ctx, "at1", now); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("a replayed code's token still valid: %v", err)
		}
		// Pruning: nothing yet; the request a day after its code expired;
		// the token after its expiry.
		if n, err := db.PruneOIDC(ctx, now); err != nil || n != 0 {
			t.Fatalf("pruned %d (%v) too early", n, err)
		}
		if n, err := db.PruneOIDC(ctx, now.Add(2*time.Minute)); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v) after the token expired, want the token", n, err)
		}
		if n, err := db.PruneOIDC(ctx, now.Add(25*time.Hour)); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v) a day later, want the request", n, err)
		}
		if _, err := db.RedeemOIDCCode(ctx, "h1", now); err != domain.ErrOIDCGrantInvalid { //nolint:errorlint // the sentinel itself
			t.Fatalf("a pruned code: %v", err)
		}
	})
}
