package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/password"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/authsvc/authsvc/pkg/token"
)

// The HTTP end-to-end tests in pkg/httpapi cover the endpoints; these cover
// what only the CLI calls, and the validators.

// newDeps are the use cases' real adapters over db.
func newDeps(t *testing.T, db *storetest.DB) account.Deps {
	t.Helper()
	h, err := password.New(password.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.New(token.Config{Secret: []byte(strings.Repeat("k", 32)), Issuer: "authsvc", Audience: "authsvc",
		AccessTTL: time.Hour, ResetTTL: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return account.Deps{Store: db, Hasher: h, Policy: h, Tokens: tokens}
}

func newService(t *testing.T, db *storetest.DB) *account.Service {
	t.Helper()
	s, err := account.New(newDeps(t, db), testkit.AccountOptions())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewRequiresDeps(t *testing.T) {
	if _, err := account.New(account.Deps{}, testkit.AccountOptions()); err == nil {
		t.Fatal("want an error without dependencies")
	}
}

func TestNewRequiresEverySetting(t *testing.T) {
	deps := newDeps(t, storetest.Open(t, storetest.SQLiteURL(t)))
	opts := testkit.AccountOptions()
	opts.MaxSession, opts.FrontendURL = 0, ""
	if _, err := account.New(deps, opts); !errors.Is(err, account.ErrMissingSetting) {
		t.Fatalf("New without MaxSession and FrontendURL: %v, want ErrMissingSetting", err)
	}
	if _, err := account.New(deps, testkit.AccountOptions()); err != nil {
		t.Fatal(err)
	}
}

func TestAdminOperations(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		ctx := context.Background()
		s := newService(t, db)
		t.Run("create user validates like register and can make an admin", func(t *testing.T) {
			_, err := s.CreateUser(ctx, domain.Registration{Username: "x", Email: "bad", Password: "password"})
			var e *domain.Error
			if domain.ErrorCode(err) != domain.EVALIDATION || !asError(err, &e) || len(e.Fields) != 3 {
				t.Fatalf("got %v", err)
			}
			u, err := s.CreateUser(ctx, domain.Registration{Username: "Root", Email: "Root@Example.com", Password: "Root-Str0ng-pw", IsAdmin: true})
			if err != nil || !u.IsAdmin || u.Email != "root@example.com" {
				t.Fatalf("got %+v, %v", u, err)
			}
		})
		t.Run("register never makes an admin", func(t *testing.T) {
			u, tok, err := s.Register(ctx, domain.Registration{Username: "eve", Email: "eve@example.com", Password: "Eve-Str0ng-pw", IsAdmin: true})
			if err != nil || u.IsAdmin || tok.Claims.IsAdmin {
				t.Fatalf("got %+v, %v", u, err)
			}
		})
		t.Run("set admin, list and show", func(t *testing.T) {
			u, err := s.SetAdmin(ctx, "EVE", true)
			if err != nil || !u.IsAdmin {
				t.Fatalf("got %+v, %v", u, err)
			}
			admins, err := s.ListUsers(ctx, domain.UserFilter{AdminsOnly: true})
			if err != nil || len(admins) != 2 {
				t.Fatalf("admins = %v, %v", admins, err)
			}
			if _, err := s.SetAdmin(ctx, "nobody", true); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("unknown user: %v", err)
			}
			if u, err := s.UserByUsername(ctx, "root"); err != nil || u.Username != "Root" {
				t.Fatalf("show: %+v, %v", u, err)
			}
		})
		t.Run("issue token works with the authenticator and honours the ttl", func(t *testing.T) {
			tok, err := s.IssueToken(ctx, "root", 2*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Until(tok.Claims.ExpiresAt); d < 119*time.Minute || d > 121*time.Minute {
				t.Fatalf("expires in %v", d)
			}
			p, err := s.Authenticate(ctx, tok.Token)
			if err != nil || p.User.Username != "Root" {
				t.Fatalf("authenticate: %+v, %v", p, err)
			}
			if _, err := s.IssueToken(ctx, "root", 0); domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("ttl 0: %v", err)
			}
			if _, err := s.IssueToken(ctx, "nobody", time.Hour); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("unknown user: %v", err)
			}
		})
		t.Run("delete user needs no password and kills the tokens", func(t *testing.T) {
			tok, err := s.IssueToken(ctx, "eve", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteUser(ctx, "eve"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, tok.Token); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Fatalf("token of a deleted user: %v", err)
			}
			if err := s.DeleteUser(ctx, "eve"); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("second delete: %v", err)
			}
		})
		t.Run("the janitor purges and stops with its context", func(t *testing.T) {
			if err := db.RevokeToken(ctx, "gone", db.Now().Add(-time.Minute)); err != nil {
				t.Fatal(err)
			}
			jctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { s.RunJanitor(jctx, time.Hour); close(done) }()
			deadline := time.Now().Add(10 * time.Second)
			for {
				var n int
				if err := storetest.SQL(t, db).Get(&n, `SELECT COUNT(*) FROM revoked_tokens`); err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("janitor did not purge")
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
		})
	})
}

func asError(err error, target **domain.Error) bool {
	e, ok := err.(*domain.Error)
	*target = e
	return ok
}

func TestValidators(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want bool
	}{
		"plain": {"alice_01.x-y", true}, "3 chars": {"abc", true}, "2 chars": {"ab", false},
		"32 chars": {strings.Repeat("a", 32), true}, "33 chars": {strings.Repeat("a", 33), false},
		"space": {"al ice", false}, "unicode": {"alicé", false}, "at sign": {"a@b", false},
	} {
		if got := domain.ValidUsername(tc.in); got != tc.want {
			t.Errorf("username %s %q: got %v", name, tc.in, got)
		}
	}
	for name, tc := range map[string]struct {
		in   string
		want bool
	}{
		"plain": {"a@example.com", true}, "display name": {"A <a@example.com>", false},
		"angle brackets": {"<a@example.com>", false}, "two": {"a@example.com, b@example.com", false},
		"no at": {"example.com", false}, "254 chars": {strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", true},
		"255 chars": {strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", false}, "spaces": {" a@example.com", false},
	} {
		if got := domain.ValidEmail(tc.in); got != tc.want {
			t.Errorf("email %s: got %v", name, got)
		}
	}
}
