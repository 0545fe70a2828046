package httpapi_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/metrics/metricstest"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// fund gives u amount credits through POST /credits/add by admin.
func (e *env) fund(admin, u *user, amount float64) {
	e.t.Helper()
	e.do("POST", "/credits/add", map[string]any{"amount": amount, "username": u.Name}, admin.Token).want(e.t, http.StatusOK, "")
}

// balance reads GET /credits/balance for u.
func (e *env) balance(u *user) map[string]any {
	e.t.Helper()
	return e.do("GET", "/credits/balance", nil, u.Token).want(e.t, http.StatusOK, "")
}

func holdPath(m map[string]any, action string) string {
	return fmt.Sprintf("/credits/holds/%d/%s", int64(m["id"].(float64)), action)
}

func TestHoldsEndToEnd(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env) {
		root := e.admin("root")
		alice, bob := e.register("alice"), e.register("bob")
		e.fund(root, alice, 100)

		t.Run("a hold is 201 pending and lowers available, not balance", func(t *testing.T) {
			h := e.do("POST", "/credits/holds", map[string]any{"amount": 30.5, "expires_in": 60, "description": "render"}, alice.Token).
				want(t, http.StatusCreated, "")
			if h["status"] != "pending" || h["amount"] != 30.5 || h["resolved_at"] != nil {
				t.Fatalf("hold %v", h)
			}
			created, _ := time.Parse(time.RFC3339Nano, h["created_at"].(string))
			expires, _ := time.Parse(time.RFC3339Nano, h["expires_at"].(string))
			if expires.Sub(created) != time.Minute {
				t.Fatalf("expires %v after creation, want 1m", expires.Sub(created))
			}
			b := e.balance(alice)
			if b["balance"] != 100.0 || b["held"] != 30.5 || b["available"] != 69.5 {
				t.Fatalf("balance %v", b)
			}
			e.do("POST", holdPath(h, "void"), nil, alice.Token).want(t, http.StatusOK, "")
		})
		t.Run("a hold beyond available is 400 insufficient_credits", func(t *testing.T) {
			e.do("POST", "/credits/holds", map[string]any{"amount": 100.01}, alice.Token).want(t, http.StatusBadRequest, "insufficient_credits")
		})
		t.Run("bad fields are 422, every one at once", func(t *testing.T) {
			r := e.do("POST", "/credits/holds", map[string]any{"amount": 1.001, "expires_in": 604801}, alice.Token).
				want(t, http.StatusUnprocessableEntity, "validation_error")
			if n := len(r["detail"].([]any)); n != 2 {
				t.Fatalf("%d errors: %v", n, r)
			}
			for _, bad := range []string{`0`, `-1`, `604801`, `9223372037`, `1.5`, `"60"`} {
				e.do("POST", "/credits/holds", rawJSON(`{"amount": 1, "expires_in": `+bad+`}`), alice.Token).
					want(t, http.StatusUnprocessableEntity, "validation_error")
			}
			e.do("POST", "/credits/holds/abc/void", nil, alice.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
			e.do("GET", "/credits/holds?status=gone", nil, alice.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
			e.do("GET", "/credits/holds?limit=0", nil, alice.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
		})
		t.Run("partial capture charges once and releases the rest", func(t *testing.T) {
			h := e.do("POST", "/credits/holds", map[string]any{"amount": 40}, alice.Token).want(t, http.StatusCreated, "")
			c := e.do("POST", holdPath(h, "capture"), map[string]any{"amount": 12.25, "reference_id": "job-1"}, alice.Token).
				want(t, http.StatusOK, "")
			hold, tx := c["hold"].(map[string]any), c["transaction"].(map[string]any)
			if hold["status"] != "captured" || hold["captured_amount"] != 12.25 || tx["amount"] != 12.25 ||
				tx["transaction_type"] != "credit_used" || tx["new_balance"] != 87.75 || tx["reference_id"] != "job-1" {
				t.Fatalf("capture %v", c)
			}
			if b := e.balance(alice); b["balance"] != 87.75 || b["held"] != 0.0 || b["available"] != 87.75 {
				t.Fatalf("balance %v", b)
			}
			t.Run("the same capture again is the original result", func(t *testing.T) {
				again := e.do("POST", holdPath(h, "capture"), map[string]any{"amount": 12.25, "reference_id": "job-1"}, alice.Token).
					want(t, http.StatusOK, "")
				if again["transaction"].(map[string]any)["id"] != tx["id"] {
					t.Fatalf("replay %v, original %v", again, c)
				}
			})
			t.Run("a second capture is 409 with the hold's state", func(t *testing.T) {
				r := e.do("POST", holdPath(h, "capture"), nil, alice.Token).want(t, http.StatusConflict, "hold_not_pending")
				if r["hold"].(map[string]any)["status"] != "captured" {
					t.Fatalf("%v", r)
				}
				e.do("POST", holdPath(h, "void"), nil, alice.Token).want(t, http.StatusConflict, "hold_not_pending")
			})
			if b := e.balance(alice); b["balance"] != 87.75 {
				t.Fatalf("a replay or refusal changed the balance: %v", b)
			}
		})
		t.Run("capture above the hold is 422", func(t *testing.T) {
			h := e.do("POST", "/credits/holds", map[string]any{"amount": 5}, alice.Token).want(t, http.StatusCreated, "")
			e.do("POST", holdPath(h, "capture"), map[string]any{"amount": 5.01}, alice.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
			e.do("POST", holdPath(h, "capture"), rawJSON(`{"amount": null}`), alice.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
			e.do("POST", holdPath(h, "void"), nil, alice.Token).want(t, http.StatusOK, "")
			t.Run("capture after void is 409 voided; a second void is 200 unchanged", func(t *testing.T) {
				r := e.do("POST", holdPath(h, "capture"), map[string]any{"reference_id": "late"}, alice.Token).
					want(t, http.StatusConflict, "hold_not_pending")
				if r["hold"].(map[string]any)["status"] != "voided" {
					t.Fatalf("%v", r)
				}
				if v := e.do("POST", holdPath(h, "void"), nil, alice.Token).want(t, http.StatusOK, ""); v["status"] != "voided" {
					t.Fatalf("%v", v)
				}
			})
		})
		t.Run("capture after expiry is 409 expired", func(t *testing.T) {
			h := e.do("POST", "/credits/holds", map[string]any{"amount": 5, "expires_in": 30}, alice.Token).want(t, http.StatusCreated, "")
			e.Clock.Advance(31 * time.Second)
			r := e.do("POST", holdPath(h, "capture"), nil, alice.Token).want(t, http.StatusConflict, "hold_not_pending")
			if r["hold"].(map[string]any)["status"] != "expired" {
				t.Fatalf("%v", r)
			}
			if b := e.balance(alice); b["held"] != 0.0 {
				t.Fatalf("expired hold still held: %v", b)
			}
		})
		t.Run("another user's hold is 404; an admin may act on it", func(t *testing.T) {
			h := e.do("POST", "/credits/holds", map[string]any{"amount": 1}, alice.Token).want(t, http.StatusCreated, "")
			e.do("POST", holdPath(h, "capture"), nil, bob.Token).want(t, http.StatusNotFound, "hold_not_found")
			e.do("POST", holdPath(h, "void"), nil, bob.Token).want(t, http.StatusNotFound, "hold_not_found")
			e.do("POST", "/credits/holds/999999/void", nil, bob.Token).want(t, http.StatusNotFound, "hold_not_found")
			e.do("POST", holdPath(h, "capture"), nil, root.Token).want(t, http.StatusOK, "")
		})
		t.Run("only admins hold another user's credits", func(t *testing.T) {
			e.do("POST", "/credits/holds", map[string]any{"amount": 1, "username": "alice"}, bob.Token).want(t, http.StatusForbidden, "forbidden")
			h := e.do("POST", "/credits/holds", map[string]any{"amount": 1, "username": "alice"}, root.Token).want(t, http.StatusCreated, "")
			if int64(h["user_id"].(float64)) != alice.ID {
				t.Fatalf("admin's hold went to %v", h["user_id"])
			}
			e.do("POST", "/credits/holds", map[string]any{"amount": 1, "username": "nobody"}, root.Token).want(t, http.StatusNotFound, "user_not_found")
		})
		t.Run("a hold an admin placed on a user is resolved by admins only, not by that user", func(t *testing.T) {
			// A metering service (admin) reserves 10 of alice's credits for a job;
			// alice must not capture it for a cent, nor void it and spend the money.
			h := e.do("POST", "/credits/holds", map[string]any{"amount": 10, "username": "alice"}, root.Token).
				want(t, http.StatusCreated, "")
			e.do("POST", holdPath(h, "capture"), map[string]any{"amount": 0.01}, alice.Token).want(t, http.StatusNotFound, "hold_not_found")
			e.do("POST", holdPath(h, "void"), nil, alice.Token).want(t, http.StatusNotFound, "hold_not_found")
			c := e.do("POST", holdPath(h, "capture"), map[string]any{"amount": 8}, root.Token).want(t, http.StatusOK, "")
			if got := c["transaction"].(map[string]any)["amount"]; got != 8.0 {
				t.Fatalf("the service's capture charged %v, want 8", got)
			}
		})
		t.Run("a repeated hold reference returns the original hold with 200", func(t *testing.T) {
			a := e.do("POST", "/credits/holds", map[string]any{"amount": 2, "reference_id": "h-1"}, alice.Token).want(t, http.StatusCreated, "")
			b := e.do("POST", "/credits/holds", map[string]any{"amount": 2, "reference_id": "h-1"}, alice.Token).want(t, http.StatusOK, "")
			if a["id"] != b["id"] {
				t.Fatalf("%v vs %v", a, b)
			}
			e.do("POST", "/credits/holds", map[string]any{"amount": 3, "reference_id": "h-1"}, alice.Token).want(t, http.StatusConflict, "idempotency_conflict")
		})
		t.Run("the caller's holds page by keyset", func(t *testing.T) {
			var ids []any
			path := "/credits/holds?limit=2"
			for range 10 {
				page := e.do("GET", path, nil, alice.Token).want(t, http.StatusOK, "")
				for _, h := range page["holds"].([]any) {
					ids = append(ids, h.(map[string]any)["id"])
				}
				if page["next_after"] == nil {
					break
				}
				path = fmt.Sprintf("/credits/holds?limit=2&after=%d", int64(page["next_after"].(float64)))
			}
			all := e.do("GET", "/credits/holds?limit=200", nil, alice.Token).want(t, http.StatusOK, "")["holds"].([]any)
			if len(ids) != len(all) || len(all) < 7 {
				t.Fatalf("paged %d holds, listed %d", len(ids), len(all))
			}
			pending := e.do("GET", "/credits/holds?status=pending", nil, alice.Token).want(t, http.StatusOK, "")["holds"].([]any)
			if len(pending) != 2 { // the admin's hold and h-1
				t.Fatalf("%d pending", len(pending))
			}
			if n := len(e.do("GET", "/credits/holds", nil, bob.Token).want(t, http.StatusOK, "")["holds"].([]any)); n != 0 {
				t.Fatalf("bob sees %d holds", n)
			}
		})
	})
}

// TestHoldReferenceNamespaces: a user who predicts the reference a metering
// service (an admin) will use for a hold on their account, and places a hold
// under it first, gets a hold of their own; the service's request still
// creates the service's hold, which the user cannot resolve. The two
// placers' requests race, repeats included.
func TestHoldReferenceNamespaces(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env) {
		root, alice := e.admin("root"), e.register("alice")
		e.fund(root, alice, 100)
		own := e.do("POST", "/credits/holds", map[string]any{"amount": 0.01, "reference_id": "job-7"}, alice.Token).
			want(t, http.StatusCreated, "")
		if own["placed_by_admin"] != false {
			t.Fatalf("alice's own hold: %v", own)
		}
		svc := e.do("POST", "/credits/holds", map[string]any{"amount": 5, "reference_id": "job-7", "username": "alice"}, root.Token).
			want(t, http.StatusCreated, "")
		if svc["id"] == own["id"] || svc["placed_by_admin"] != true || svc["amount"] != 5.0 {
			t.Fatalf("the service's hold %v, alice's %v", svc, own)
		}
		e.do("POST", holdPath(svc, "void"), nil, alice.Token).want(t, http.StatusNotFound, "hold_not_found")
		e.do("POST", holdPath(own, "capture"), map[string]any{"amount": 0.01}, alice.Token).want(t, http.StatusOK, "")
		c := e.do("POST", holdPath(svc, "capture"), map[string]any{"amount": 4}, root.Token).want(t, http.StatusOK, "")
		if c["hold"].(map[string]any)["placed_by_admin"] != true {
			t.Fatalf("capture: %v", c)
		}

		// Both placers race on a fresh reference, each repeating it.
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			ids = map[bool]map[any]bool{true: {}, false: {}}
		)
		for i := range 16 {
			wg.Go(func() {
				body := map[string]any{"amount": 2, "reference_id": "job-8"}
				tok := alice.Token
				if i%2 == 0 {
					body["username"], tok = "alice", root.Token
				}
				r := e.do("POST", "/credits/holds", body, tok)
				if r.Status != http.StatusCreated && r.Status != http.StatusOK {
					t.Errorf("hold: %d %s", r.Status, r.Body)
					return
				}
				h := r.json(t)
				if h["placed_by_admin"] != (i%2 == 0) {
					t.Errorf("request %d got %v", i, h)
				}
				mu.Lock()
				ids[i%2 == 0][h["id"]] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(ids[true]) != 1 || len(ids[false]) != 1 {
			t.Fatalf("the service got holds %v, alice %v; want one each", ids[true], ids[false])
		}
		for id := range ids[true] {
			if ids[false][id] {
				t.Fatalf("the service and alice share hold %v", id)
			}
		}
		if b := e.balance(alice); b["held"] != 4.0 {
			t.Fatalf("held %v, want 4 (one hold of 2 per placer)", b["held"])
		}
	})
}

// TestHoldsAndUsesRace: holds, captures and plain uses race on one
// account; no response ever shows a negative available balance, and the
// ledger adds up at the end.
func TestHoldsAndUsesRace(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env) {
		root, alice := e.admin("root"), e.register("alice")
		e.fund(root, alice, 30)
		var (
			wg                sync.WaitGroup
			uses, holdsCaught atomic.Int64
		)
		check := func(m map[string]any, keys ...string) {
			for _, k := range keys {
				if v, ok := m[k].(float64); ok && v < 0 {
					t.Errorf("%s = %v in %v", k, v, m)
				}
			}
		}
		for i := range 60 {
			wg.Go(func() {
				switch i % 3 {
				case 0:
					r := e.do("POST", "/credits/use", map[string]any{"amount": 1}, alice.Token)
					if r.Status == http.StatusOK {
						uses.Add(1)
						check(r.json(t), "new_balance")
					} else if r.Status != http.StatusBadRequest {
						t.Errorf("use: %d %s", r.Status, r.Body)
					}
				case 1:
					r := e.do("POST", "/credits/holds", map[string]any{"amount": 2}, alice.Token)
					if r.Status == http.StatusBadRequest {
						return
					}
					if r.Status != http.StatusCreated {
						t.Errorf("hold: %d %s", r.Status, r.Body)
						return
					}
					c := e.do("POST", holdPath(r.json(t), "capture"), map[string]any{"amount": 1.5}, alice.Token)
					if c.Status != http.StatusOK {
						t.Errorf("capture: %d %s", c.Status, c.Body)
						return
					}
					holdsCaught.Add(1)
					check(c.json(t)["transaction"].(map[string]any), "new_balance")
				default:
					r := e.do("GET", "/credits/balance", nil, alice.Token)
					m := r.json(t)
					check(m, "available", "balance", "held")
					if m["available"].(float64) > m["balance"].(float64) {
						t.Errorf("available above balance: %v", m)
					}
				}
			})
		}
		wg.Wait()
		b := e.balance(alice)
		want := 30 - float64(uses.Load()) - 1.5*float64(holdsCaught.Load())
		if b["balance"] != want || b["held"] != 0.0 || b["available"] != want {
			t.Fatalf("balance %v, want %v after %d uses and %d captures", b, want, uses.Load(), holdsCaught.Load())
		}
		page := e.do("GET", "/credits/transactions?limit=200", nil, alice.Token).want(t, http.StatusOK, "")
		if n := int64(page["total_count"].(float64)); n != 1+uses.Load()+holdsCaught.Load() {
			t.Fatalf("%d transactions, want %d", n, 1+uses.Load()+holdsCaught.Load())
		}
	})
}

// TestHoldMetrics: /metrics counts hold events once each; replays and
// refusals are not events.
func TestHoldMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{})
	root, alice := e.admin("root"), e.register("alice")
	e.fund(root, alice, 10)
	var holds []map[string]any
	for range 3 {
		holds = append(holds, e.do("POST", "/credits/holds", map[string]any{"amount": 1, "expires_in": 60}, alice.Token).
			want(t, http.StatusCreated, ""))
	}
	e.do("POST", holdPath(holds[0], "capture"), map[string]any{"reference_id": "c"}, alice.Token).want(t, http.StatusOK, "")
	e.do("POST", holdPath(holds[0], "capture"), map[string]any{"reference_id": "c"}, alice.Token).want(t, http.StatusOK, "")
	e.do("POST", holdPath(holds[1], "void"), nil, alice.Token).want(t, http.StatusOK, "")
	e.do("POST", holdPath(holds[1], "void"), nil, alice.Token).want(t, http.StatusOK, "")
	e.Clock.Advance(time.Minute)
	e.do("POST", holdPath(holds[2], "capture"), nil, alice.Token).want(t, http.StatusConflict, "hold_not_pending")
	e.do("POST", holdPath(holds[2], "capture"), nil, alice.Token).want(t, http.StatusConflict, "hold_not_pending")

	m := metricstest.Scrape(t, e.Handler)
	for event, want := range map[string]float64{"created": 3, "captured": 1, "voided": 1, "expired": 1} {
		if got := m.Value("authsvc_credit_holds_total", "event", event); got != want {
			t.Errorf("holds %s: %v, want %v", event, got, want)
		}
	}
	if got := m.Value("authsvc_credit_operations_total", "type", "used"); got != 1 {
		t.Errorf("credits used: %v, want 1 (the capture)", got)
	}
	if got := m.Value("authsvc_credit_refusals_total", "reason", "hold_not_pending"); got != 2 {
		t.Errorf("hold_not_pending refusals: %v, want 2", got)
	}
}

// TestHoldRacesOverHTTP: 200 concurrent holds of 1.00 on 100.00 through the
// API, exactly 100 succeed; then a capture and a void race on each: every
// hold ends captured or voided, never both, and the balance and the
// transaction count agree with the captures.
func TestHoldRacesOverHTTP(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env) {
		root, alice := e.admin("root"), e.register("alice")
		e.fund(root, alice, 100)
		var (
			wg          sync.WaitGroup
			mu          sync.Mutex
			ids         []map[string]any
			refused     atomic.Int64
			captured    sync.Map
			voided      sync.Map
			nCaptured   atomic.Int64
			holdRequest = map[string]any{"amount": 1}
		)
		for range 200 {
			wg.Go(func() {
				r := e.do("POST", "/credits/holds", holdRequest, alice.Token)
				switch r.Status {
				case http.StatusCreated:
					mu.Lock()
					ids = append(ids, r.json(t))
					mu.Unlock()
				case http.StatusBadRequest:
					refused.Add(1)
				default:
					t.Errorf("hold: %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		if len(ids) != 100 || refused.Load() != 100 {
			t.Fatalf("%d holds, %d refused; want 100 and 100", len(ids), refused.Load())
		}
		for _, h := range ids {
			wg.Go(func() {
				r := e.do("POST", holdPath(h, "capture"), rawJSON(`{"amount": 0.75}`), alice.Token)
				switch r.Status {
				case http.StatusOK:
					captured.Store(h["id"], true)
					nCaptured.Add(1)
				case http.StatusConflict:
				default:
					t.Errorf("capture: %d %s", r.Status, r.Body)
				}
			})
			wg.Go(func() {
				r := e.do("POST", holdPath(h, "void"), nil, alice.Token)
				switch r.Status {
				case http.StatusOK:
					voided.Store(h["id"], true)
				case http.StatusConflict:
				default:
					t.Errorf("void: %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		for _, h := range ids {
			_, c := captured.Load(h["id"])
			_, v := voided.Load(h["id"])
			if c == v {
				t.Errorf("hold %v: captured %v, voided %v", h["id"], c, v)
			}
		}
		n := float64(nCaptured.Load())
		b := e.balance(alice)
		if b["balance"] != 100-0.75*n || b["held"] != 0.0 || b["available"] != b["balance"] {
			t.Fatalf("balance %v after %v captures", b, n)
		}
		page := e.do("GET", "/credits/transactions?limit=1", nil, alice.Token).want(t, http.StatusOK, "")
		if page["total_count"] != 1+n {
			t.Fatalf("%v transactions, want %v", page["total_count"], 1+n)
		}
	})
}
