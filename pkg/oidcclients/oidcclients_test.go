package oidcclients_test

import (
	"context"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/oidcclients"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// auditCount is how many audit events named name db holds.
func auditCount(t *testing.T, db *storetest.DB, name string) int {
	t.Helper()
	var n int
	if err := storetest.SQL(t, db).Get(&n, storetest.SQL(t, db).Rebind(`SELECT COUNT(*) FROM audit_events WHERE event = ?`), name); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestClients(t *testing.T) {
	ctx := context.Background()
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		s := oidcclients.New(db, nil)

		conf, err := s.Create(ctx, domain.NewOIDCClient{Name: "Dashboard", FirstParty: true,
			RedirectURIs: []string{"https://dash.example.com/oauth2/callback"}})
		if err != nil || conf.Secret == "" || conf.Public || len(conf.Grants) != 2 || len(conf.Scopes) != 3 {
			t.Fatalf("confidential: %+v %v", conf, err)
		}
		stored, err := s.Get(ctx, conf.ID)
		if err != nil || stored.SecretHash == "" || stored.SecretHash == conf.Secret || !stored.FirstParty ||
			stored.RedirectURIs[0] != "https://dash.example.com/oauth2/callback" {
			t.Fatalf("stored: %+v %v", stored, err)
		}
		pub, err := s.Create(ctx, domain.NewOIDCClient{Name: "SPA", Public: true, RedirectURIs: []string{"http://localhost:5173/cb"}})
		if err != nil || pub.Secret != "" {
			t.Fatalf("public: %+v %v", pub, err)
		}
		machine, err := s.Create(ctx, domain.NewOIDCClient{Name: "Billing", Grants: []string{domain.GrantClientCredentials},
			Scopes: []string{"keys:verify"}})
		if err != nil || machine.Secret == "" {
			t.Fatalf("machine: %+v %v", machine, err)
		}
		if all, err := s.List(ctx); err != nil || len(all) != 3 || all[0].ID != conf.ID {
			t.Fatalf("list: %v %v", all, err)
		}
		if auditCount(t, db, domain.AuditOIDCClientCreated) != 3 {
			t.Fatal("creations not audited")
		}

		t.Run("bad registrations are refused whole", func(t *testing.T) {
			for name, req := range map[string]domain.NewOIDCClient{
				"no name":               {RedirectURIs: []string{"https://a.example.com/cb"}},
				"http elsewhere":        {Name: "x", RedirectURIs: []string{"http://a.example.com/cb"}},
				"fragment":              {Name: "x", RedirectURIs: []string{"https://a.example.com/cb#x"}},
				"code without redirect": {Name: "x"},
				"public machine":        {Name: "x", Public: true, Grants: []string{domain.GrantClientCredentials}},
				"unknown grant":         {Name: "x", Grants: []string{"password"}, RedirectURIs: []string{"https://a.example.com/cb"}},
				"bad scope":             {Name: "x", Scopes: []string{"two words"}, RedirectURIs: []string{"https://a.example.com/cb"}},
				"bad post-logout":       {Name: "x", RedirectURIs: []string{"https://a.example.com/cb"}, PostLogoutRedirectURIs: []string{"http://evil.example/"}},
			} {
				if _, err := s.Create(ctx, req); domain.ErrorCode(err) != domain.EVALIDATION {
					t.Errorf("%s: %v, want EVALIDATION", name, err)
				}
			}
			if all, _ := s.List(ctx); len(all) != 3 {
				t.Fatalf("a refused registration was kept: %d clients", len(all))
			}
		})
		// matches is how the provider authenticates a client: its stored
		// registration, then OIDCClient.SecretMatches.
		matches := func(id, secret string) bool {
			c, err := s.Get(ctx, id)
			if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatal(err)
			}
			return err == nil && c.SecretMatches(secret)
		}
		t.Run("secrets authenticate, and rotate", func(t *testing.T) {
			if !matches(conf.ID, conf.Secret) {
				t.Fatal("the secret does not match")
			}
			for name, args := range map[string][2]string{
				"wrong secret": {conf.ID, conf.Secret + "x"}, "unknown client": {"nope", conf.Secret}, "public client": {pub.ID, ""},
			} {
				if matches(args[0], args[1]) {
					t.Errorf("%s: matches", name)
				}
			}
			fresh, err := s.RotateSecret(ctx, conf.ID)
			if err != nil || fresh == conf.Secret {
				t.Fatalf("rotate: %v", err)
			}
			if matches(conf.ID, conf.Secret) {
				t.Fatal("the old secret still works")
			}
			if !matches(conf.ID, fresh) {
				t.Fatal("the new secret does not match")
			}
			if _, err := s.RotateSecret(ctx, pub.ID); domain.ErrorCode(err) != domain.EVALIDATION {
				t.Fatalf("rotating a public client's secret: %v", err)
			}
			if auditCount(t, db, domain.AuditOIDCClientSecretRotated) != 1 {
				t.Fatal("rotation not audited once")
			}
		})
		t.Run("delete", func(t *testing.T) {
			if err := s.Delete(ctx, pub.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, pub.ID); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("deleted client: %v", err)
			}
			if err := s.Delete(ctx, pub.ID); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("second delete: %v", err)
			}
			if auditCount(t, db, domain.AuditOIDCClientDeleted) != 1 {
				t.Fatal("deletion not audited once")
			}
		})
	})
}
