package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/apikey"
)

// createKey makes a key for u through the API and returns its id and secret.
func (e *env) createKey(u *user, scopes []string, expiresAt *time.Time) (id, key string) {
	e.t.Helper()
	body := map[string]any{"name": "ci job", "scopes": scopes}
	if expiresAt != nil {
		body["expires_at"] = expiresAt.UTC().Format(time.RFC3339)
	}
	m := e.do("POST", "/auth/api-keys", body, u.Token).want(e.t, http.StatusCreated, "")
	key = m["key"].(string)
	e.secret(key) // from now on, no response or log line may contain it
	return m["id"].(string), key
}

// withAPIKeyHeader sends GET path with the key in X-API-Key.
func (e *env) withAPIKeyHeader(path, key string) *response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("X-API-Key", key)
	return e.send(req)
}

func TestAPIKeyCreateListAndUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		id, key := e.createKey(alice, []string{"profile:read", "credits:read", "reports:generate"}, nil)
		if err := apikey.Check(key); err != nil {
			t.Fatalf("created key %q: %v", key, err)
		}

		list := e.do("GET", "/auth/api-keys", nil, alice.Token).want(t, http.StatusOK, "")
		keys := list["keys"].([]any)
		if len(keys) != 1 {
			t.Fatalf("list: %v", list)
		}
		k := keys[0].(map[string]any)
		if k["id"] != id || k["prefix"] != key[:8] || k["key"] != nil || len(k["scopes"].([]any)) != 3 {
			t.Fatalf("listed key %v", k)
		}

		if m := e.do("GET", "/auth/me", nil, key).want(t, http.StatusOK, ""); m["username"] != "alice" {
			t.Fatalf("me with the key: %v", m)
		}
		if m := e.withAPIKeyHeader("/auth/me", key).want(t, http.StatusOK, ""); m["username"] != "alice" {
			t.Fatalf("me with X-API-Key: %v", m)
		}
		e.do("GET", "/credits/balance", nil, key).want(t, http.StatusOK, "")
		e.do("GET", "/credits/transactions", nil, key).want(t, http.StatusOK, "")
		e.do("POST", "/credits/use", map[string]any{"amount": "1"}, key).want(t, http.StatusForbidden, "missing_scope")
		e.do("GET", "/credits/holds", nil, key).want(t, http.StatusForbidden, "missing_scope")

		// The row records the use, written once however many requests came.
		var used int
		if err := e.SQL().Get(&used, e.SQL().Rebind(`SELECT COUNT(*) FROM api_keys WHERE id = ? AND last_used_at IS NOT NULL`), id); err != nil || used != 1 {
			t.Fatalf("last_used_at not set: %d, %v", used, err)
		}
		var events int
		if err := e.SQL().Get(&events, `SELECT COUNT(*) FROM audit_events WHERE event = 'api_key.created'`); err != nil || events != 1 {
			t.Fatalf("api_key.created events: %d, %v", events, err)
		}
		if n := e.outboxCount("api_key_created"); n != 1 {
			t.Fatalf("api_key_created emails: %d", n)
		}
	})
}

// A key never reaches an endpoint that changes the account or manages
// credentials: 403 api_key_not_allowed, even with every scope.
func TestAPIKeyForbiddenEndpoints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		id, key := e.createKey(alice, []string{"profile:read", "credits:read", "credits:use", "credits:hold"}, nil)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"PUT", "/auth/users/alice/password", map[string]string{"current_password": alice.Password, "new_password": "another-Pw-123!"}},
			{"PUT", "/auth/users/alice/email", map[string]string{"email": "new@example.com"}},
			{"DELETE", "/auth/users/alice", map[string]string{"password": alice.Password}},
			{"GET", "/auth/users/alice", nil},
			{"POST", "/auth/mfa/totp", nil},
			{"POST", "/auth/mfa/totp/verify", map[string]string{"code": "123456"}},
			{"DELETE", "/auth/mfa/totp", map[string]string{"password": alice.Password, "code": "123456"}},
			{"POST", "/auth/api-keys", map[string]any{"name": "x", "scopes": []string{"profile:read"}}},
			{"GET", "/auth/api-keys", nil},
			{"DELETE", "/auth/api-keys/" + id, nil},
			{"GET", "/auth/sessions", nil},
			{"POST", "/auth/logout", nil},
			{"POST", "/credits/add", map[string]any{"amount": "1"}},
			{"GET", "/admin/audit", nil},
		} {
			e.do(c.method, c.path, c.body, key).want(t, http.StatusForbidden, "api_key_not_allowed")
		}
		e.do("GET", "/auth/me", nil, alice.Token).want(t, http.StatusOK, "") // nothing changed
		e.do("GET", "/auth/me", nil, key).want(t, http.StatusOK, "")
	})
}

// An admin's key acts as the admin's own account only: no admin rights.
func TestAPIKeyOfAnAdminHasNoAdminRights(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		root, bob := e.admin("root"), e.register("bob")
		_, key := e.createKey(root, []string{"profile:read", "credits:hold"}, nil)
		path := "/auth/me?user_id=" + strconv.FormatInt(bob.ID, 10)
		e.do("GET", path, nil, root.Token).want(t, http.StatusOK, "")
		e.do("GET", path, nil, key).want(t, http.StatusForbidden, "forbidden")
		e.do("POST", "/credits/holds", map[string]any{"amount": 1, "username": "bob"}, key).want(t, http.StatusForbidden, "forbidden")
	})
}

// A mistyped key is refused on its checksum without a database statement.
func TestAPIKeyBadChecksumNeedsNoQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		_, key := e.createKey(alice, []string{"profile:read"}, nil)
		flip := byte('A')
		if key[10] == flip {
			flip = 'B'
		}
		bad := key[:10] + string(flip) + key[11:]
		before := e.Queries.Count()
		e.do("GET", "/auth/me", nil, bad).want(t, http.StatusUnauthorized, "invalid_api_key")
		e.do("GET", "/auth/me", nil, "ask_short").want(t, http.StatusUnauthorized, "invalid_api_key")
		if n := e.Queries.Count() - before; n != 0 {
			t.Fatalf("a malformed key cost %d statements, want 0", n)
		}
		// A well-formed key that was never issued costs the one lookup.
		e.do("GET", "/auth/me", nil, apikey.FromBytes(make([]byte, 32))).want(t, http.StatusUnauthorized, "invalid_api_key")
		if n := e.Queries.Count() - before; n != 1 {
			t.Fatalf("an unknown key cost %d statements, want 1", n)
		}
	})
}

// Revocation, expiry, logout everywhere and account deletion each end a
// key; of concurrent revocations exactly one succeeds.
func TestAPIKeyEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice, bob := e.register("alice"), e.register("bob")
		id, key := e.createKey(alice, []string{"profile:read"}, nil)
		e.do("DELETE", "/auth/api-keys/"+id, nil, bob.Token).want(t, http.StatusNotFound, "api_key_not_found")
		e.do("GET", "/auth/me", nil, key).want(t, http.StatusOK, "")
		var wg sync.WaitGroup
		statuses := make(chan int, 20)
		for range 20 {
			wg.Go(func() { statuses <- e.do("DELETE", "/auth/api-keys/"+id, nil, alice.Token).Status })
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[http.StatusOK] != 1 || count[http.StatusNotFound] != 19 {
			t.Fatalf("concurrent revocations: %v", count)
		}
		e.do("GET", "/auth/me", nil, key).want(t, http.StatusUnauthorized, "invalid_api_key")
		if m := e.do("GET", "/auth/api-keys", nil, alice.Token).want(t, http.StatusOK, ""); len(m["keys"].([]any)) != 0 {
			t.Fatalf("a revoked key is listed: %v", m)
		}
		var events int
		if err := e.SQL().Get(&events, `SELECT COUNT(*) FROM audit_events WHERE event = 'api_key.revoked'`); err != nil || events != 1 {
			t.Fatalf("api_key.revoked events: %d, %v", events, err)
		}
		if n := e.outboxCount("api_key_revoked"); n != 1 {
			t.Fatalf("api_key_revoked emails: %d, want one for the one revocation", n)
		}

		in := e.Clock.Now().Add(time.Hour)
		_, expiring := e.createKey(alice, []string{"profile:read"}, &in)
		e.do("GET", "/auth/me", nil, expiring).want(t, http.StatusOK, "")
		e.Clock.Advance(time.Hour + time.Second)
		e.do("GET", "/auth/me", nil, expiring).want(t, http.StatusUnauthorized, "invalid_api_key")

		alice.Token = e.token("alice", alice.Password) // the clock moved past the old token
		_, k2 := e.createKey(alice, []string{"profile:read"}, nil)
		e.do("POST", "/auth/logout?scope=global", nil, alice.Token).want(t, http.StatusOK, "")
		e.do("GET", "/auth/me", nil, k2).want(t, http.StatusUnauthorized, "invalid_api_key")

		bob.Token = e.token("bob", bob.Password)
		_, k3 := e.createKey(bob, []string{"profile:read"}, nil)
		e.do("DELETE", "/auth/users/bob", map[string]string{"password": bob.Password}, bob.Token).want(t, http.StatusOK, "")
		e.do("GET", "/auth/me", nil, k3).want(t, http.StatusUnauthorized, "invalid_api_key")
	})
}

func TestAPIKeyCreateValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		past := e.Clock.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		for _, body := range []any{
			map[string]any{"name": "", "scopes": []string{"profile:read"}},
			map[string]any{"name": strings.Repeat("n", 101), "scopes": []string{"profile:read"}},
			map[string]any{"name": "x", "scopes": []string{}},
			map[string]any{"name": "x"},
			map[string]any{"name": "x", "scopes": []string{"a", "a"}},
			map[string]any{"name": "x", "scopes": []string{"has space"}},
			map[string]any{"name": "x", "scopes": []string{strings.Repeat("s", 65)}},
			map[string]any{"name": "x", "scopes": []string{"profile:read"}, "expires_at": past},
			map[string]any{"name": "x", "scopes": []string{"profile:read"}, "spend_limit": map[string]any{"amount": "1"}},
		} {
			e.do("POST", "/auth/api-keys", body, alice.Token).want(t, http.StatusUnprocessableEntity, "")
		}
		if m := e.do("GET", "/auth/api-keys", nil, alice.Token).want(t, http.StatusOK, ""); len(m["keys"].([]any)) != 0 {
			t.Fatalf("a refused key was stored: %v", m)
		}
	})
}
