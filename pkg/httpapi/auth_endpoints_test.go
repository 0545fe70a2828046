package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// keys returns the sorted keys of m.
func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func wantKeys(t *testing.T, m map[string]any, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keys(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("body keys = %v, want %v (%v)", got, want, m)
	}
}

// fieldLocs returns the loc paths of a 422 body, e.g. "body.email".
func fieldLocs(t *testing.T, m map[string]any) []string {
	t.Helper()
	list, ok := m["detail"].([]any)
	if !ok {
		t.Fatalf("422 detail is not a list: %v", m)
	}
	var locs []string
	for _, item := range list {
		var parts []string
		for _, p := range item.(map[string]any)["loc"].([]any) {
			parts = append(parts, fmt.Sprint(p))
		}
		locs = append(locs, strings.Join(parts, "."))
	}
	sort.Strings(locs)
	return locs
}

func TestRegisterEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		body := func(u, m, p string) map[string]string {
			return map[string]string{"username": u, "email": m, "password": p}
		}
		t.Run("success is 201 with token and queues the welcome email", func(t *testing.T) {
			e.secret("Str0ng-enough-pw")
			m := e.do("POST", "/auth/register", body("Alice", "Alice@Example.com", "Str0ng-enough-pw"), "").want(t, 201, "")
			wantKeys(t, m, "message", "username", "access_token", "token_type")
			if m["message"] != "User registered successfully" || m["username"] != "Alice" || m["token_type"] != "bearer" {
				t.Fatalf("body = %v", m)
			}
			tok := m["access_token"].(string)
			e.secret(tok)
			if got := e.do("GET", "/auth/me", nil, tok).want(t, 200, ""); got["email"] != "alice@example.com" {
				t.Fatalf("me = %v", got)
			}
			if e.outboxCount("welcome") != 1 {
				t.Fatal("welcome email not queued")
			}
		})
		t.Run("taken username (any case) is 409", func(t *testing.T) {
			e.do("POST", "/auth/register", body("ALICE", "other@example.com", "Str0ng-enough-pw"), "").want(t, 409, "username_taken")
		})
		t.Run("taken email (any case) is 409", func(t *testing.T) {
			e.do("POST", "/auth/register", body("bob", "ALICE@example.com", "Str0ng-enough-pw"), "").want(t, 409, "email_taken")
		})
		t.Run("every bad field is listed in one 422", func(t *testing.T) {
			m := e.do("POST", "/auth/register", body("ab", "not-an-email", "short"), "").want(t, 422, "validation_error")
			if got := fieldLocs(t, m); !reflect.DeepEqual(got, []string{"body.email", "body.password", "body.username"}) {
				t.Fatalf("locs = %v", got)
			}
		})
		t.Run("missing fields are 422", func(t *testing.T) {
			m := e.do("POST", "/auth/register", rawJSON(`{}`), "").want(t, 422, "validation_error")
			if len(fieldLocs(t, m)) != 3 {
				t.Fatalf("body %v", m)
			}
		})
		for name, b := range map[string]map[string]string{
			"bad username characters":  body("al ice", "a1@example.com", "Str0ng-enough-pw"),
			"username over 32":         body(strings.Repeat("a", 33), "a2@example.com", "Str0ng-enough-pw"),
			"email with display name":  body("carol", "Carol <carol@example.com>", "Str0ng-enough-pw"),
			"two emails":               body("carol", "a@example.com, b@example.com", "Str0ng-enough-pw"),
			"email over 254":           body("carol", strings.Repeat("a", 64)+"@"+strings.Repeat("b", 190)+".com", "Str0ng-enough-pw"),
			"common password":          body("carol", "carol@example.com", "password"),
			"73-byte password":         body("carol", "carol@example.com", strings.Repeat("x", 73)),
			"7-byte password":          body("carol", "carol@example.com", "Xq7!zzy"),
			"common password any case": body("carol", "carol@example.com", "PassWord"),
		} {
			t.Run(name+" is 422", func(t *testing.T) {
				e.secret(b["password"])
				e.do("POST", "/auth/register", b, "").want(t, 422, "validation_error")
			})
		}
		t.Run("unknown field is 422 and malformed JSON is 422", func(t *testing.T) {
			e.do("POST", "/auth/register", rawJSON(`{"username":"x","is_admin":true}`), "").want(t, 422, "validation_error")
			e.do("POST", "/auth/register", rawJSON(`{"username":`), "").want(t, 422, "validation_error")
		})
		t.Run("a form body is 415", func(t *testing.T) {
			e.do("POST", "/auth/register", form{"username": {"dave"}}, "").want(t, 415, "")
		})
	})
}

func TestLoginEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		u := e.register("alice")
		t.Run("form login is 200 with a working token", func(t *testing.T) {
			m := e.login("alice", u.Password).want(t, 200, "")
			wantKeys(t, m, "access_token", "token_type")
			if m["token_type"] != "bearer" || e.me(m["access_token"].(string)) != 200 {
				t.Fatalf("body = %v", m)
			}
		})
		t.Run("username matches case-insensitively", func(t *testing.T) {
			e.login("ALICE", u.Password).want(t, 200, "")
		})
		t.Run("JSON login and grant_type password work", func(t *testing.T) {
			m := e.do("POST", "/auth/login", map[string]string{"username": "alice", "password": u.Password}, "").want(t, 200, "")
			e.secret(m["access_token"].(string))
			m = e.do("POST", "/auth/login", form{"username": {"alice"}, "password": {u.Password}, "grant_type": {"password"}}, "").
				want(t, 200, "")
			e.secret(m["access_token"].(string))
		})
		t.Run("another grant_type is 422", func(t *testing.T) {
			e.do("POST", "/auth/login", form{"username": {"alice"}, "password": {u.Password}, "grant_type": {"client_credentials"}}, "").
				want(t, 422, "validation_error")
		})
		t.Run("missing fields are 422", func(t *testing.T) {
			m := e.do("POST", "/auth/login", form{}, "").want(t, 422, "validation_error")
			if got := fieldLocs(t, m); !reflect.DeepEqual(got, []string{"body.password", "body.username"}) {
				t.Fatalf("locs = %v", got)
			}
		})
		t.Run("wrong password is 401", func(t *testing.T) {
			e.login("alice", "wrong-password-1").want(t, 401, "invalid_credentials")
		})
		t.Run("a text body is 415", func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.URL+"/auth/login", strings.NewReader("x"))
			req.Header.Set("Content-Type", "text/plain")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 415 {
				t.Fatalf("status = %d", res.StatusCode)
			}
		})
	})
}

func TestMeAndUserDetailsEndpoints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice, bob, root := e.register("alice"), e.register("bob"), e.admin("root")
		t.Run("me is 200 with username and email", func(t *testing.T) {
			m := e.do("GET", "/auth/me", nil, alice.Token).want(t, 200, "")
			wantKeys(t, m, "username", "email", "email_verified") // email_verified: added by authsvc
			if m["username"] != "alice" || m["email"] != alice.Email {
				t.Fatalf("me = %v", m)
			}
		})
		t.Run("me without a token is 401", func(t *testing.T) {
			e.do("GET", "/auth/me", nil, "").want(t, 401, "")
		})
		t.Run("a username no account can have is 404, never a 500", func(t *testing.T) {
			for _, name := range []string{"%00alice", "al%ffice", "%c3%28"} {
				e.do("GET", "/auth/users/"+name, nil, root.Token).want(t, 404, "user_not_found")
			}
		})
		t.Run("admin reads another user by user_id", func(t *testing.T) {
			m := e.do("GET", fmt.Sprintf("/auth/me?user_id=%d", bob.ID), nil, root.Token).want(t, 200, "")
			if m["username"] != "bob" {
				t.Fatalf("me = %v", m)
			}
		})
		t.Run("user_id of oneself works for anyone", func(t *testing.T) {
			e.do("GET", fmt.Sprintf("/auth/me?user_id=%d", alice.ID), nil, alice.Token).want(t, 200, "")
		})
		t.Run("non-admin user_id is 403 whether or not the user exists", func(t *testing.T) {
			e.do("GET", fmt.Sprintf("/auth/me?user_id=%d", bob.ID), nil, alice.Token).want(t, 403, "forbidden")
			e.do("GET", "/auth/me?user_id=999999", nil, alice.Token).want(t, 403, "forbidden")
		})
		t.Run("admin user_id of nobody is 404", func(t *testing.T) {
			e.do("GET", "/auth/me?user_id=999999", nil, root.Token).want(t, 404, "")
		})
		t.Run("bad user_id is 422", func(t *testing.T) {
			m := e.do("GET", "/auth/me?user_id=abc", nil, root.Token).want(t, 422, "validation_error")
			if got := fieldLocs(t, m); got[0] != "query.user_id" {
				t.Fatalf("locs = %v", got)
			}
		})
		t.Run("user details of oneself", func(t *testing.T) {
			m := e.do("GET", "/auth/users/alice", nil, alice.Token).want(t, 200, "")
			wantKeys(t, m, "username", "email", "id", "is_admin", "email_verified")
			if m["id"] != float64(alice.ID) || m["is_admin"] != false || m["email"] != alice.Email {
				t.Fatalf("details = %v", m)
			}
		})
		t.Run("user details of another user is 403 for a non-admin, existing or not", func(t *testing.T) {
			e.do("GET", "/auth/users/bob", nil, alice.Token).want(t, 403, "forbidden")
			e.do("GET", "/auth/users/nobody", nil, alice.Token).want(t, 403, "forbidden")
		})
		t.Run("admin reads anyone's details, 404 for nobody", func(t *testing.T) {
			if m := e.do("GET", "/auth/users/BOB", nil, root.Token).want(t, 200, ""); m["username"] != "bob" {
				t.Fatalf("details = %v", m)
			}
			if m := e.do("GET", "/auth/users/root", nil, root.Token).want(t, 200, ""); m["is_admin"] != true {
				t.Fatalf("details = %v", m)
			}
			e.do("GET", "/auth/users/nobody", nil, root.Token).want(t, 404, "")
		})
		t.Run("user details without a token is 401", func(t *testing.T) {
			e.do("GET", "/auth/users/alice", nil, "").want(t, 401, "")
		})
	})
}

func TestChangePasswordEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice, bob, root := e.register("alice"), e.register("bob"), e.admin("root")
		change := func(name, tok, cur, next string) *response {
			e.secret(cur)
			e.secret(next)
			return e.do("PUT", "/auth/users/"+name+"/password",
				map[string]string{"current_password": cur, "new_password": next}, tok)
		}
		t.Run("weak new password is 422", func(t *testing.T) {
			change("alice", alice.Token, alice.Password, "password").want(t, 422, "validation_error")
		})
		t.Run("wrong current password is 401", func(t *testing.T) {
			change("alice", alice.Token, "not-my-password", "Another-Str0ng-pw").want(t, 401, "invalid_credentials")
		})
		t.Run("another user is 403 for a non-admin, existing or not", func(t *testing.T) {
			change("bob", alice.Token, alice.Password, "Another-Str0ng-pw").want(t, 403, "forbidden")
			change("nobody", alice.Token, alice.Password, "Another-Str0ng-pw").want(t, 403, "forbidden")
		})
		t.Run("admin on nobody is 404", func(t *testing.T) {
			change("nobody", root.Token, root.Password, "Another-Str0ng-pw").want(t, 404, "")
		})
		t.Run("self change is 200 and kills earlier tokens", func(t *testing.T) {
			m := change("alice", alice.Token, alice.Password, "Alice-New-Str0ng").want(t, 200, "")
			if m["message"] != "Password updated successfully" {
				t.Fatalf("body = %v", m)
			}
			if e.me(alice.Token) != 401 {
				t.Fatal("token issued before the change still works")
			}
			e.login("alice", alice.Password).want(t, 401, "invalid_credentials")
			e.login("alice", "Alice-New-Str0ng").want(t, 200, "")
		})
		t.Run("admin changes another user's password with the admin's own password", func(t *testing.T) {
			change("bob", root.Token, bob.Password, "Bob-New-Str0ng-1").want(t, 401, "invalid_credentials")
			change("bob", root.Token, root.Password, "Bob-New-Str0ng-1").want(t, 200, "")
			e.login("bob", "Bob-New-Str0ng-1").want(t, 200, "")
			if e.me(bob.Token) != 401 || e.me(root.Token) != 200 {
				t.Fatal("want bob's old token dead and the admin's alive")
			}
		})
		t.Run("no token is 401", func(t *testing.T) {
			change("alice", "", "x", "y").want(t, 401, "")
		})
	})
}

func TestChangeEmailEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice, bob, root := e.register("alice"), e.register("bob"), e.admin("root")
		change := func(name, tok, email, pw string) *response {
			e.secret(pw)
			return e.do("PUT", "/auth/users/"+name+"/email", map[string]string{"new_email": email, "current_password": pw}, tok)
		}
		t.Run("bad email is 422", func(t *testing.T) {
			change("alice", alice.Token, "nope", alice.Password).want(t, 422, "validation_error")
		})
		t.Run("taken email is 400", func(t *testing.T) {
			change("alice", alice.Token, "BOB@example.com", alice.Password).want(t, 400, "email_taken")
		})
		t.Run("wrong password is 401", func(t *testing.T) {
			change("alice", alice.Token, "a2@example.com", "wrong-password-1").want(t, 401, "invalid_credentials")
		})
		t.Run("another user is 403 for a non-admin, existing or not", func(t *testing.T) {
			change("bob", alice.Token, "a2@example.com", alice.Password).want(t, 403, "forbidden")
			change("nobody", alice.Token, "a2@example.com", alice.Password).want(t, 403, "forbidden")
		})
		t.Run("admin on nobody is 404", func(t *testing.T) {
			change("nobody", root.Token, "a2@example.com", root.Password).want(t, 404, "")
		})
		t.Run("success is 200, notifies the old address and kills earlier tokens", func(t *testing.T) {
			m := change("alice", alice.Token, "Alice.New@Example.com", alice.Password).want(t, 200, "")
			wantKeys(t, m, "message", "username", "email")
			if m["message"] != "Email updated successfully" || m["username"] != "alice" || m["email"] != "alice.new@example.com" {
				t.Fatalf("body = %v", m)
			}
			var row struct {
				Recipient string `db:"recipient"`
				Data      string `db:"data"`
			}
			if err := e.SQL().Get(&row, `SELECT recipient, data FROM email_outbox WHERE kind = 'email_changed'`); err != nil {
				t.Fatal(err)
			}
			var data map[string]string
			json.Unmarshal([]byte(row.Data), &data) //nolint:errcheck // checked below
			if row.Recipient != alice.Email || data["old_email"] != alice.Email || data["new_email"] != "alice.new@example.com" || data["username"] != "alice" {
				t.Fatalf("notice = %+v", row)
			}
			if e.me(alice.Token) != 401 {
				t.Fatal("token issued before the change still works")
			}
		})
		t.Run("admin changes another user's email with the admin's own password", func(t *testing.T) {
			change("bob", root.Token, "bob2@example.com", root.Password).want(t, 200, "")
			if e.me(bob.Token) != 401 {
				t.Fatal("bob's token survived")
			}
		})
	})
}

func TestDeleteEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice, bob, carol, root := e.register("alice"), e.register("bob"), e.register("carol"), e.admin("root")
		t.Run("missing password is 422", func(t *testing.T) {
			e.do("DELETE", "/auth/users/alice", nil, alice.Token).want(t, 422, "validation_error")
		})
		t.Run("wrong password is 401", func(t *testing.T) {
			e.do("DELETE", "/auth/users/alice?password=wrong-password-1", nil, alice.Token).want(t, 401, "invalid_credentials")
		})
		t.Run("another user is 403 for a non-admin, existing or not", func(t *testing.T) {
			e.do("DELETE", "/auth/users/bob", map[string]string{"password": alice.Password}, alice.Token).want(t, 403, "forbidden")
			e.do("DELETE", "/auth/users/nobody", map[string]string{"password": alice.Password}, alice.Token).want(t, 403, "forbidden")
		})
		t.Run("admin on nobody is 404", func(t *testing.T) {
			e.do("DELETE", "/auth/users/nobody", map[string]string{"password": root.Password}, root.Token).want(t, 404, "")
		})
		t.Run("password in the query deletes and kills the tokens", func(t *testing.T) {
			m := e.do("DELETE", "/auth/users/alice?password="+alice.Password, nil, alice.Token).want(t, 200, "")
			if m["message"] != "User deleted successfully" {
				t.Fatalf("body = %v", m)
			}
			e.do("GET", "/auth/me", nil, alice.Token).want(t, 401, "invalid_token")
			e.login("alice", alice.Password).want(t, 401, "invalid_credentials")
		})
		t.Run("password in a JSON body deletes", func(t *testing.T) {
			e.do("DELETE", "/auth/users/bob", map[string]string{"password": bob.Password}, bob.Token).want(t, 200, "")
			if e.me(bob.Token) != 401 {
				t.Fatal("bob's token survived")
			}
		})
		t.Run("admin deletes another user with the admin's own password", func(t *testing.T) {
			e.do("DELETE", "/auth/users/carol", map[string]string{"password": root.Password}, root.Token).want(t, 200, "")
			if e.me(carol.Token) != 401 || e.me(root.Token) != 200 {
				t.Fatal("want carol's token dead and the admin's alive")
			}
		})
		t.Run("no token is 401", func(t *testing.T) {
			e.do("DELETE", "/auth/users/root?password=x", nil, "").want(t, 401, "")
		})
	})
}

func TestRefreshEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		refresh := func(tok string) *response {
			r := e.do("POST", "/auth/refresh", map[string]string{"token": tok}, "")
			if r.Status == 200 {
				e.secret(r.json(t)["access_token"].(string))
			}
			return r
		}
		t.Run("refresh returns a new working token and kills the old one", func(t *testing.T) {
			m := refresh(alice.Token).want(t, 200, "")
			wantKeys(t, m, "access_token", "token_type")
			fresh := m["access_token"].(string)
			if fresh == alice.Token || e.me(fresh) != 200 || e.me(alice.Token) != 401 {
				t.Fatal("want a new working token and the old one dead")
			}
			t.Run("refreshing the old token again is 401", func(t *testing.T) {
				refresh(alice.Token).want(t, 401, "")
			})
			alice.Token = fresh
		})
		t.Run("garbage token is 401 and a missing one 422", func(t *testing.T) {
			refresh("not.a.token").want(t, 401, "")
			e.do("POST", "/auth/refresh", rawJSON(`{}`), "").want(t, 422, "validation_error")
		})
		t.Run("refresh keeps auth_time and refuses past the maximum session", func(t *testing.T) {
			tok := e.token("alice", alice.Password)
			first, err := e.Tokens.ParseAccess(tok)
			if err != nil {
				t.Fatal(err)
			}
			for range 20 {
				e.Clock.Advance(59 * time.Minute)
				r := refresh(tok)
				elapsed := e.Clock.Now().Sub(first.AuthTime)
				if r.Status != 200 {
					r.want(t, 401, "") // expired: the last token ended with the session
					if elapsed < 12*time.Hour {
						t.Fatalf("refused after only %v", elapsed)
					}
					return
				}
				tok = r.json(t)["access_token"].(string)
				claims, err := e.Tokens.ParseAccess(tok)
				if err != nil || !claims.AuthTime.Equal(first.AuthTime) || claims.ExpiresAt.After(first.AuthTime.Add(12*time.Hour)) {
					t.Fatalf("refreshed claims %+v (auth_time want %v): %v", claims, first.AuthTime, err)
				}
			}
			t.Fatal("refresh extended the session past 12 h")
		})
		t.Run("a valid token whose auth_time is past the maximum session is refused", func(t *testing.T) {
			u, err := e.DB.UserByUsername(context.Background(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			old, _, err := e.Tokens.IssueAccess(u, e.Clock.Now().Add(-12*time.Hour-time.Second), "")
			if err != nil {
				t.Fatal(err)
			}
			e.secret(old)
			if e.me(old) != 200 {
				t.Fatal("the old-session token should still authenticate")
			}
			refresh(old).want(t, 401, "session_expired")
		})
	})
}

func TestLogoutEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		t.Run("logout is 200 and revokes the token", func(t *testing.T) {
			other := e.token("alice", alice.Password)
			m := e.do("POST", "/auth/logout", nil, alice.Token).want(t, 200, "")
			if m["message"] != "Successfully logged out" {
				t.Fatalf("body = %v", m)
			}
			e.do("GET", "/auth/me", nil, alice.Token).want(t, 401, "invalid_token")
			e.do("POST", "/auth/logout", nil, alice.Token).want(t, 401, "")
			if e.me(other) != 200 {
				t.Fatal("logout killed another session")
			}
		})
		t.Run("logout without a token is 401", func(t *testing.T) {
			e.do("POST", "/auth/logout", nil, "").want(t, 401, "")
		})
		t.Run("purge keeps a revocation until the token expires", func(t *testing.T) {
			tok := e.token("alice", alice.Password)
			e.do("POST", "/auth/logout", nil, tok).want(t, 200, "")
			if err := e.Auth.Purge(context.Background()); err != nil {
				t.Fatal(err)
			}
			if e.me(tok) != 401 {
				t.Fatal("purge resurrected a revoked token")
			}
		})
	})
}
