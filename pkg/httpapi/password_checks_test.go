package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"golang.org/x/crypto/bcrypt"
)

// The current-password re-check of password change, email
// change and account deletion counts toward the per-account failure limit,
// so a stolen token cannot guess the owner's password without bound.
func TestReauthenticationCountsTowardTheLoginLimit(t *testing.T) {
	const limit = 5
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, b.URL(t), envConfig{authOpts: account.Options{FailedLoginLimit: limit}})
			t.Run("wrong current passwords reach the limit, then 429 even for the right one", func(t *testing.T) {
				u := e.register("victim")
				guesses := []func(i int) *response{
					func(i int) *response {
						return e.do("PUT", "/auth/users/victim/password", map[string]string{
							"current_password": fmt.Sprintf("guess-%d-aaaa", i), "new_password": "A-new-Str0ng-pw!"}, u.Token)
					},
					func(i int) *response {
						return e.do("PUT", "/auth/users/victim/email", map[string]string{
							"current_password": fmt.Sprintf("guess-%d-bbbb", i), "new_email": "new@example.com"}, u.Token)
					},
					func(i int) *response {
						return e.do("DELETE", "/auth/users/victim", map[string]string{"password": fmt.Sprintf("guess-%d-cccc", i)}, u.Token)
					},
				}
				for i := range limit {
					guesses[i%len(guesses)](i).want(t, http.StatusUnauthorized, "invalid_credentials")
				}
				for i, guess := range guesses {
					guess(limit+i).want(t, http.StatusTooManyRequests, "rate_limited")
				}
				// The right password is refused too while the window lasts, at
				// login and at the re-check alike: the guesser learns nothing.
				e.login("victim", u.Password).want(t, http.StatusTooManyRequests, "rate_limited")
				e.do("PUT", "/auth/users/victim/password", map[string]string{
					"current_password": u.Password, "new_password": "A-new-Str0ng-pw!"}, u.Token).
					want(t, http.StatusTooManyRequests, "rate_limited")
			})
			t.Run("failed logins and re-checks share one count; a right re-check clears it", func(t *testing.T) {
				u := e.register("owner")
				for i := range limit - 1 {
					e.login("owner", fmt.Sprintf("wrong-%d-xxxx", i)).want(t, http.StatusUnauthorized, "")
				}
				e.do("PUT", "/auth/users/owner/email", map[string]string{
					"current_password": u.Password, "new_email": "owner2@example.com"}, u.Token).want(t, http.StatusOK, "")
				tok := e.token("owner", u.Password)
				for i := range limit {
					e.do("DELETE", "/auth/users/owner", map[string]string{"password": fmt.Sprintf("nope-%d-yyyy", i)}, tok).
						want(t, http.StatusUnauthorized, "")
				}
				e.login("owner", u.Password).want(t, http.StatusTooManyRequests, "rate_limited")
			})
		})
	}
}

// A successful login whose stored hash has another cost
// than the configured one stores a new hash at the configured cost, without
// ending the user's sessions.
func TestLoginRehashesAtTheConfiguredCost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u := e.register("oldcost")
		old, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.MinCost+1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.SQL().ExecContext(ctx, e.SQL().Rebind(`UPDATE users SET password_hash = ? WHERE id = ?`), string(old), u.ID); err != nil {
			t.Fatal(err)
		}
		e.login("oldcost", "wrong-password-zzz").want(t, http.StatusUnauthorized, "")
		if cost := storedCost(t, e, u.ID); cost != bcrypt.MinCost+1 {
			t.Fatalf("a failed login changed the hash (cost %d)", cost)
		}
		e.login("oldcost", u.Password).want(t, http.StatusOK, "")
		if cost := storedCost(t, e, u.ID); cost != bcrypt.MinCost {
			t.Fatalf("stored cost after login = %d, want the configured %d", cost, bcrypt.MinCost)
		}
		if got := e.me(u.Token); got != http.StatusOK {
			t.Fatalf("the rehash ended an earlier token: %d", got)
		}
		e.login("oldcost", u.Password).want(t, http.StatusOK, "")
	})
}

func storedCost(t *testing.T, e *env, id int64) int {
	t.Helper()
	var hash string
	if err := e.SQL().Get(&hash, e.SQL().Rebind(`SELECT password_hash FROM users WHERE id = ?`), id); err != nil {
		t.Fatal(err)
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		t.Fatal(err)
	}
	return cost
}
