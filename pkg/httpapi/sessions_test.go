package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// sidOf returns the sid claim of a token (no verification).
func sidOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.SID
}

type sessionView struct {
	ID          string    `json:"id"`
	CreatedAt   time.Time `json:"created_at"`
	RefreshedAt time.Time `json:"refreshed_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	ClientIP    string    `json:"client_ip"`
	UserAgent   string    `json:"user_agent"`
	Current     bool      `json:"current"`
}

// sessions lists the sessions of tok's user through the API.
func (e *env) sessions(tok string) []sessionView {
	e.t.Helper()
	r := e.do("GET", "/auth/sessions", nil, tok)
	r.want(e.t, http.StatusOK, "")
	var body struct{ Sessions []sessionView }
	if err := json.Unmarshal(r.Body, &body); err != nil {
		e.t.Fatal(err)
	}
	var raw struct{ Sessions []map[string]any }
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		e.t.Fatal(err)
	}
	for _, s := range raw.Sessions { // the documented fields, no more (no user_id)
		if keys := slices.Sorted(maps.Keys(s)); !slices.Equal(keys, []string{"client_ip", "created_at", "current",
			"expires_at", "id", "refreshed_at", "user_agent"}) {
			e.t.Fatalf("session fields %v", keys)
		}
	}
	return body.Sessions
}

func TestSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		t.Run("register and two logins are three sessions, each token with its own sid", func(t *testing.T) {
			a, b := e.token("alice", alice.Password), e.token("alice", alice.Password)
			ids := map[string]bool{sidOf(t, alice.Token): true, sidOf(t, a): true, sidOf(t, b): true}
			if len(ids) != 3 || ids[""] {
				t.Fatalf("sids %v, want three distinct", ids)
			}
			list := e.sessions(a)
			if len(list) != 3 {
				t.Fatalf("%d sessions, want 3: %+v", len(list), list)
			}
			for _, s := range list {
				if !ids[s.ID] {
					t.Errorf("listed session %s is none of the tokens'", s.ID)
				}
				if s.Current != (s.ID == sidOf(t, a)) {
					t.Errorf("session %s current=%v", s.ID, s.Current)
				}
				if s.ClientIP != "127.0.0.1" || !strings.HasPrefix(s.UserAgent, "Go-http-client/") {
					t.Errorf("session %s recorded ip %q, user agent %q", s.ID, s.ClientIP, s.UserAgent)
				}
				if want := s.CreatedAt.Add(12 * time.Hour); !s.ExpiresAt.Equal(want) {
					t.Errorf("expires %v, want created + 12h %v", s.ExpiresAt, want)
				}
			}
		})
		t.Run("deleting one session ends its tokens only", func(t *testing.T) {
			a, b := e.token("alice", alice.Password), e.token("alice", alice.Password)
			e.do("DELETE", "/auth/sessions/"+sidOf(t, a), nil, b).want(t, http.StatusOK, "")
			if got := e.me(a); got != http.StatusUnauthorized {
				t.Fatalf("token of the deleted session: %d", got)
			}
			if got := e.me(b); got != http.StatusOK {
				t.Fatalf("token of the other session: %d", got)
			}
			e.do("DELETE", "/auth/sessions/"+sidOf(t, a), nil, b).want(t, http.StatusNotFound, "session_not_found")
			e.do("POST", "/auth/refresh", map[string]string{"token": a}, "").want(t, http.StatusUnauthorized, "")
		})
		t.Run("another user's session is 404 and stays alive", func(t *testing.T) {
			bob := e.register("bob")
			e.do("DELETE", "/auth/sessions/"+sidOf(t, bob.Token), nil, alice.Token).want(t, http.StatusNotFound, "session_not_found")
			for _, id := range []string{"%00", "%FF%FE", "no-such-session"} { // NUL and invalid UTF-8: 404 on both databases, never 400 or 500
				e.do("DELETE", "/auth/sessions/"+id, nil, alice.Token).want(t, http.StatusNotFound, "session_not_found")
			}
			if got := e.me(bob.Token); got != http.StatusOK {
				t.Fatalf("bob's token: %d", got)
			}
		})
		t.Run("refresh keeps the sid and stamps the session", func(t *testing.T) {
			tok := e.token("alice", alice.Password)
			e.Clock.Advance(time.Minute)
			m := e.do("POST", "/auth/refresh", map[string]string{"token": tok}, "").want(t, http.StatusOK, "")
			fresh := m["access_token"].(string)
			e.secret(fresh)
			if sidOf(t, fresh) != sidOf(t, tok) {
				t.Fatalf("refresh changed the sid")
			}
			for _, s := range e.sessions(fresh) {
				if s.ID == sidOf(t, fresh) && !s.RefreshedAt.After(s.CreatedAt) {
					t.Fatalf("refreshed_at %v not after created_at %v", s.RefreshedAt, s.CreatedAt)
				}
			}
		})
		t.Run("logout scope others keeps the current session only", func(t *testing.T) {
			a, b, c := e.token("alice", alice.Password), e.token("alice", alice.Password), e.token("alice", alice.Password)
			e.do("POST", "/auth/logout?scope=others", nil, b).want(t, http.StatusOK, "")
			if e.me(a) != http.StatusUnauthorized || e.me(c) != http.StatusUnauthorized || e.me(b) != http.StatusOK {
				t.Fatalf("after scope=others: a %d, b %d, c %d", e.me(a), e.me(b), e.me(c))
			}
			if list := e.sessions(b); len(list) != 1 || !list[0].Current {
				t.Fatalf("sessions left: %+v", list)
			}
		})
		t.Run("logout scope local (the default) ends the current session only", func(t *testing.T) {
			a, b := e.token("alice", alice.Password), e.token("alice", alice.Password)
			e.do("POST", "/auth/logout", nil, a).want(t, http.StatusOK, "")
			if e.me(a) != http.StatusUnauthorized || e.me(b) != http.StatusOK {
				t.Fatalf("after local logout: a %d, b %d", e.me(a), e.me(b))
			}
			for _, s := range e.sessions(b) {
				if s.ID == sidOf(t, a) {
					t.Fatal("the logged-out session is still listed")
				}
			}
		})
		t.Run("logout scope global ends every session", func(t *testing.T) {
			a, b := e.token("alice", alice.Password), e.token("alice", alice.Password)
			row, err := e.DB.UserByID(context.Background(), alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			old, _, err := e.Tokens.IssueAccess(row, e.Clock.Now(), "") // issued before sessions existed: no sid
			if err != nil {
				t.Fatal(err)
			}
			e.secret(old)
			if e.me(old) != http.StatusOK {
				t.Fatal("a token without sid is refused before the logout")
			}
			e.do("POST", "/auth/logout?scope=global", nil, a).want(t, http.StatusOK, "")
			if e.me(a) != http.StatusUnauthorized || e.me(b) != http.StatusUnauthorized || e.me(old) != http.StatusUnauthorized {
				t.Fatalf("after global logout: a %d, b %d, a token without sid %d", e.me(a), e.me(b), e.me(old))
			}
			if n := e.sessionRows(alice.ID); n != 0 {
				t.Fatalf("%d sessions left", n)
			}
		})
		t.Run("an unknown scope is 422", func(t *testing.T) {
			tok := e.token("alice", alice.Password)
			e.do("POST", "/auth/logout?scope=everyone", nil, tok).want(t, http.StatusUnprocessableEntity, "validation_error")
			if e.me(tok) != http.StatusOK {
				t.Fatal("a refused logout ended the session")
			}
		})
		t.Run("password change ends every session", func(t *testing.T) {
			a, b := e.token("alice", alice.Password), e.token("alice", alice.Password)
			newPw := "Alice-new-Str0ng-pw"
			e.secret(newPw)
			e.do("PUT", "/auth/users/alice/password", map[string]string{"current_password": alice.Password, "new_password": newPw}, a).
				want(t, http.StatusOK, "")
			alice.Password = newPw
			if e.me(a) != http.StatusUnauthorized || e.me(b) != http.StatusUnauthorized {
				t.Fatal("a session survived the password change")
			}
			if n := e.sessionRows(alice.ID); n != 0 {
				t.Fatalf("%d sessions left after the change", n)
			}
		})
		t.Run("password reset ends every session", func(t *testing.T) {
			tok := e.token("alice", alice.Password)
			reset := e.requestReset(alice)
			newPw := "Alice-reset-Str0ng-pw"
			e.secret(newPw)
			e.do("POST", "/auth/reset-password", map[string]string{"token": reset, "new_password": newPw}, "").want(t, http.StatusOK, "")
			alice.Password = newPw
			if e.me(tok) != http.StatusUnauthorized || e.sessionRows(alice.ID) != 0 {
				t.Fatal("a session survived the reset")
			}
		})
		t.Run("a token without sid (issued before sessions) works until it expires", func(t *testing.T) {
			u, err := e.DB.UserByID(context.Background(), alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			old, _, err := e.Tokens.IssueAccess(u, e.Clock.Now(), "")
			if err != nil {
				t.Fatal(err)
			}
			e.secret(old)
			if got := e.me(old); got != http.StatusOK {
				t.Fatalf("token without sid: %d", got)
			}
		})
		t.Run("sessions past the maximum are pruned in the background", func(t *testing.T) {
			e.token("alice", alice.Password)
			if e.sessionRows(alice.ID) == 0 {
				t.Fatal("no session to prune")
			}
			e.Clock.Advance(12*time.Hour + time.Second)
			if err := e.Auth.Purge(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := e.sessionRows(alice.ID); n != 0 {
				t.Fatalf("%d expired sessions left", n)
			}
		})
	})
}

// sessionRows counts the user's session rows, expired or not.
func (e *env) sessionRows(userID int64) int {
	e.t.Helper()
	var n int
	if err := e.SQL().Get(&n, e.SQL().Rebind(`SELECT COUNT(*) FROM sessions WHERE user_id = ?`), userID); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// The performance contract: an authenticated request costs one database
// statement, which checks the user, the token version, the revocation list
// and the session at once.
func TestOneQueryPerAuthenticatedRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		u := e.register("counted")
		e.me(u.Token) // the first request prepares the statement on a connection
		for _, path := range []string{"/auth/me", "/auth/users/counted"} {
			before := e.Queries.Count()
			if got := e.do("GET", path, nil, u.Token).Status; got != http.StatusOK {
				t.Fatalf("%s: %d", path, got)
			}
			if n := e.Queries.Count() - before; n != 1 {
				t.Errorf("GET %s sent %d statements, want 1", path, n)
			}
		}
		before := e.Queries.Count()
		if got := e.do("GET", "/auth/me", nil, "not-a-token").Status; got != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", got)
		}
		if n := e.Queries.Count() - before; n != 0 {
			t.Errorf("a malformed token cost %d statements, want 0", n)
		}
	})
}
