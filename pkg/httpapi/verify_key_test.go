package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/apikey"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// verifierSecret is the service credential of the tests' POST /keys/verify.
const verifierSecret = "product-backend-verifier-secret-0123456789"

// forEachVerifyBackend runs fn on both databases with a verifier secret
// configured (and cfg's other settings).
func forEachVerifyBackend(t *testing.T, adjust func(*config.Config), fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fn(t, newEnv(t, b.URL(t), envConfig{config: func(c *config.Config) {
				c.APIKeys.VerifierSecrets = []string{verifierSecret}
				if adjust != nil {
					adjust(c)
				}
			}}))
		})
	}
}

// verifyKey calls POST /keys/verify as the product's backend.
func (e *env) verifyKey(body map[string]any) *response {
	e.t.Helper()
	return e.do("POST", "/keys/verify", body, verifierSecret)
}

// keyWith creates a key for u with extra fields (rate or spend limits).
func (e *env) keyWith(u *user, extra map[string]any) (id, key string) {
	e.t.Helper()
	body := map[string]any{"name": "product", "scopes": []string{"credits:use", "reports:run"}}
	for k, v := range extra {
		body[k] = v
	}
	m := e.do("POST", "/auth/api-keys", body, u.Token).want(e.t, http.StatusCreated, "")
	key = m["key"].(string)
	e.secret(key)
	return m["id"].(string), key
}

type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }

func TestVerifyKey(t *testing.T) {
	forEachVerifyBackend(t, nil, func(t *testing.T, e *env) {
		alice := e.register("alice")
		id, key := e.keyWith(alice, nil)

		t.Run("only a service credential may ask", func(t *testing.T) {
			e.do("POST", "/keys/verify", map[string]any{"key": key}, "").want(t, http.StatusUnauthorized, "verifier_required")
			e.do("POST", "/keys/verify", map[string]any{"key": key}, "not-the-secret").want(t, http.StatusUnauthorized, "verifier_required")
			e.do("POST", "/keys/verify", map[string]any{"key": key}, alice.Token).want(t, http.StatusUnauthorized, "verifier_required")
		})
		t.Run("a good key", func(t *testing.T) {
			m := e.verifyKey(map[string]any{"key": key, "scopes": []string{"reports:run"}}).want(t, http.StatusOK, "")
			if m["valid"] != true || m["key_id"] != id || m["user_id"] != float64(alice.ID) || m["username"] != "alice" ||
				fmt.Sprint(m["scopes"]) != "[credits:use reports:run]" || m["code"] != nil {
				t.Fatalf("got %v", m)
			}
		})
		t.Run("refusals are 200 with a code", func(t *testing.T) {
			altered := key[:len(key)-1] + "x" // its checksum no longer matches
			if strings.HasSuffix(key, "x") {
				altered = key[:len(key)-1] + "y"
			}
			never, err := apikey.New() // well-formed, never issued
			if err != nil {
				t.Fatal(err)
			}
			for name, tc := range map[string]struct {
				body map[string]any
				code string
			}{
				"malformed":     {map[string]any{"key": altered}, "not_found"},
				"unknown":       {map[string]any{"key": never}, "not_found"},
				"missing scope": {map[string]any{"key": key, "scopes": []string{"admin:all"}}, "missing_scope"},
			} {
				if m := e.verifyKey(tc.body).want(t, http.StatusOK, ""); m["valid"] != false || m["code"] != tc.code {
					t.Errorf("%s: got %v, want code %s", name, m, tc.code)
				}
			}
			e.verifyKey(map[string]any{"key": key, "cost": map[string]any{"amount": 1}}).want(t, http.StatusUnprocessableEntity, "validation_error")
			e.verifyKey(map[string]any{}).want(t, http.StatusUnprocessableEntity, "validation_error")
		})
		t.Run("revoked", func(t *testing.T) {
			e.do("DELETE", "/auth/api-keys/"+id, nil, alice.Token).want(t, http.StatusOK, "")
			if m := e.verifyKey(map[string]any{"key": key}).want(t, http.StatusOK, ""); m["valid"] != false || m["code"] != "revoked" {
				t.Fatalf("got %v", m)
			}
		})
		t.Run("a key's own rate limit", func(t *testing.T) {
			_, limited := e.keyWith(alice, map[string]any{"rate_limit_per_minute": 3})
			for i := range 3 {
				m := e.verifyKey(map[string]any{"key": limited}).want(t, http.StatusOK, "")
				rl, _ := m["rate_limit"].(map[string]any)
				if m["valid"] != true || rl == nil || rl["remaining"] != float64(2-i) {
					t.Fatalf("call %d: %v", i+1, m)
				}
			}
			if m := e.verifyKey(map[string]any{"key": limited}).want(t, http.StatusOK, ""); m["code"] != "rate_limited" {
				t.Fatalf("4th call: %v", m)
			}
			e.withAPIKeyHeader("/credits/balance", limited).want(t, http.StatusTooManyRequests, "rate_limited")
		})
		// Last: the clock moves past alice's access token.
		t.Run("expired", func(t *testing.T) {
			soon := e.Clock.Now().Add(time.Hour)
			_, short := e.createKey(alice, []string{"credits:use"}, &soon)
			e.Clock.Advance(2 * time.Hour)
			if m := e.verifyKey(map[string]any{"key": short}).want(t, http.StatusOK, ""); m["code"] != "expired" {
				t.Fatalf("got %v", m)
			}
		})
	})
}

// 200 concurrent verifications of 1.00 on a balance of 100.00: exactly 100
// charge, 100 are refused, and the balance ends at 0; a repeated
// reference_id charges once.
func TestVerifyWithCostIsExact(t *testing.T) {
	forEachVerifyBackend(t, nil, func(t *testing.T, e *env) {
		bob := e.register("bob")
		e.fund(e.admin("root"), bob, 100)
		_, key := e.keyWith(bob, nil)
		codes := verifyConcurrently(e, key, 200, func(i int) string { return fmt.Sprintf("job-%d", i) })
		if codes[""] != 100 || codes["insufficient_credits"] != 100 {
			t.Fatalf("outcomes %v, want 100 valid and 100 insufficient_credits", codes)
		}
		if b := e.balance(bob)["balance"]; b != 0.0 {
			t.Fatalf("balance %v, want 0", b)
		}

		e.fund(e.admin("root2"), bob, 5)
		for range 3 {
			m := e.verifyKey(map[string]any{"key": key, "cost": map[string]any{"amount": jsonNumber("1.00"), "reference_id": "same"}}).
				want(t, http.StatusOK, "")
			if m["valid"] != true || m["balance"] != 4.0 {
				t.Fatalf("repeat: %v", m)
			}
		}
	})
}

// A spend limit of 10.00 a day under 50 concurrent charges of 1.00 lets
// exactly 10 through, on a balance that could pay for all of them; the next
// day the allowance is back.
func TestVerifySpendLimitIsAtomic(t *testing.T) {
	forEachVerifyBackend(t, nil, func(t *testing.T, e *env) {
		carol := e.register("carol")
		e.fund(e.admin("root"), carol, 100)
		_, key := e.keyWith(carol, map[string]any{"spend_limit": map[string]any{"amount": jsonNumber("10.00"), "period": "day"}})
		codes := verifyConcurrently(e, key, 50, func(i int) string { return fmt.Sprintf("call-%d", i) })
		if codes[""] != 10 || codes["spend_limit"] != 40 {
			t.Fatalf("outcomes %v, want 10 valid and 40 spend_limit", codes)
		}
		if b := e.balance(carol)["balance"]; b != 90.0 {
			t.Fatalf("balance %v, want 90", b)
		}
		// A repeat of a charged reference is not a new charge, even at the limit.
		m := e.verifyKey(map[string]any{"key": key, "cost": map[string]any{"amount": jsonNumber("1.00"), "reference_id": "call-x"}}).want(t, http.StatusOK, "")
		if m["code"] != "spend_limit" {
			t.Fatalf("an 11th charge: %v", m)
		}
		e.Clock.Advance(24 * time.Hour)
		m = e.verifyKey(map[string]any{"key": key, "cost": map[string]any{"amount": jsonNumber("1.00"), "reference_id": "next-day"}}).want(t, http.StatusOK, "")
		if m["valid"] != true {
			t.Fatalf("the next day: %v", m)
		}
	})
}

// verifyConcurrently sends n verifications of 1.00 at once, with reference
// ref(i), and counts their codes ("" for valid).
func verifyConcurrently(e *env, key string, n int, ref func(int) string) map[string]int {
	e.t.Helper()
	var (
		mu    sync.Mutex
		codes = map[string]int{}
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			m := e.verifyKey(map[string]any{"key": key, "cost": map[string]any{"amount": jsonNumber("1.00"), "reference_id": ref(i)}}).
				want(e.t, http.StatusOK, "")
			code, _ := m["code"].(string)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

// Failed verifications count toward the per-IP limit; past it, every
// verification from that address is 429, valid keys too.
func TestVerifyFailuresAreLimitedPerIP(t *testing.T) {
	forEachVerifyBackend(t, func(c *config.Config) { c.RateLimit.AuthPerMinute = 3 }, func(t *testing.T, e *env) {
		dan := e.register("dan")
		_, key := e.keyWith(dan, nil)
		for range 10 { // valid ones do not count
			e.verifyKey(map[string]any{"key": key}).want(t, http.StatusOK, "")
		}
		unknown, err := apikey.New() // well-formed, never issued: one lookup each
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			e.verifyKey(map[string]any{"key": unknown}).want(t, http.StatusOK, "")
		}
		e.verifyKey(map[string]any{"key": key}).want(t, http.StatusTooManyRequests, "rate_limited")
	})
}
