package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/metrics/metricstest"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// The harness boots serve's wiring (cmd.Build), so what serve puts around the
// routes is in every end-to-end test: these tests fail if newEnv goes back to
// wiring httpapi.New by hand.
func TestHarnessRunsServesWiring(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{config: func(c *config.Config) {
		c.RateLimit.AuthPerMinute = 3
		c.Server.CORSAllowedOrigins = []string{"https://app.example.test"}
	}})

	t.Run("per-IP rate limits answer 429 through the renderer", func(t *testing.T) {
		for i := range 3 {
			r := e.login("nobody", "wrong-password-1")
			r.want(t, http.StatusUnauthorized, "invalid_credentials")
			if got := r.Header.Get("RateLimit-Limit"); got != "3" {
				t.Fatalf("login %d: RateLimit-Limit = %q, want 3", i+1, got)
			}
		}
		r := e.login("nobody", "wrong-password-1")
		m := r.want(t, http.StatusTooManyRequests, "rate_limited")
		if m["detail"] != "Too many requests" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("429 body %s, Retry-After %q", r.Body, r.Header.Get("Retry-After"))
		}
	})

	t.Run("metrics count the requests", func(t *testing.T) {
		e.do("GET", "/healthz", nil, "").want(t, http.StatusOK, "")
		fams := metricstest.Scrape(t, e.Handler)
		if got := fams.Value("authsvc_http_requests_total", "method", "POST", "status", "429"); got < 1 {
			t.Fatalf("authsvc_http_requests_total{method=POST,status=429} = %v, want >= 1", got)
		}
	})

	t.Run("CORS and the access log are on", func(t *testing.T) {
		req, err := http.NewRequest("OPTIONS", e.URL+"/auth/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "https://app.example.test")
		req.Header.Set("Access-Control-Request-Method", "GET")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.test" {
			t.Fatalf("preflight Access-Control-Allow-Origin = %q", got)
		}
		if !strings.Contains(e.logs.String(), "/healthz") {
			t.Fatal("the access log has no line for GET /healthz")
		}
	})
}

// The ledger through serve's wiring, on both backends: the rules whose
// wording and status now come from one place each (domain.SelfOrAdmin,
// the idempotency 409, the pydantic v2 422 types).
func TestCreditsThroughServesWiring(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		root := e.admin("root")
		alice := e.register("alice")

		e.do("POST", "/credits/add", map[string]any{"amount": 10, "username": "alice", "reference_id": "r1"}, root.Token).
			want(t, http.StatusOK, "")
		again := e.do("POST", "/credits/add", map[string]any{"amount": 10, "username": "alice", "reference_id": "r1"}, root.Token).
			want(t, http.StatusOK, "")
		if again["new_balance"] != 10.0 {
			t.Fatalf("a replayed reference changed the balance: %v", again)
		}
		m := e.do("POST", "/credits/add", map[string]any{"amount": 11, "username": "alice", "reference_id": "r1"}, root.Token).
			want(t, http.StatusConflict, "idempotency_conflict")
		if m["detail"] != "reference_id was already used with a different amount" {
			t.Fatalf("409 detail %v", m["detail"])
		}
		e.do("POST", "/credits/use", map[string]any{"amount": 11}, alice.Token).want(t, http.StatusBadRequest, "insufficient_credits")
		e.do("POST", "/credits/add", map[string]any{"amount": 1, "username": "root"}, alice.Token).want(t, http.StatusForbidden, "forbidden")

		m = e.do("POST", "/credits/use", rawJSON(`{"amount":0.001,"reference_id":"`+strings.Repeat("r", 129)+`","extra":1}`), alice.Token).
			want(t, http.StatusUnprocessableEntity, "validation_error")
		if got := fieldTypes(t, m); got != "extra:extra_forbidden" {
			t.Fatalf("unknown field: types %s", got)
		}
		m = e.do("POST", "/credits/use", rawJSON(`{"amount":0.001,"reference_id":"`+strings.Repeat("r", 129)+`"}`), alice.Token).
			want(t, http.StatusUnprocessableEntity, "validation_error")
		if got := fieldTypes(t, m); got != "amount:decimal_max_places reference_id:string_too_long" {
			t.Fatalf("types %s", got)
		}
		m = e.do("POST", "/auth/register", map[string]string{"username": "x"}, "").want(t, http.StatusUnprocessableEntity, "validation_error")
		if got := fieldTypes(t, m); got != "username:string_too_short email:missing password:missing" {
			t.Fatalf("register types %s", got)
		}
		m = e.do("GET", "/credits/transactions?limit=0&skip=-1", nil, alice.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
		if got := fieldTypes(t, m); got != "skip:greater_than_equal limit:greater_than_equal" {
			t.Fatalf("page types %s", got)
		}
	})
}

// fieldTypes lists a 422 body's entries as "field:type", in order.
func fieldTypes(t *testing.T, m map[string]any) string {
	t.Helper()
	list, ok := m["detail"].([]any)
	if !ok {
		t.Fatalf("422 detail is not a list: %v", m["detail"])
	}
	var out []string
	for _, d := range list {
		entry := d.(map[string]any)
		loc := entry["loc"].([]any)
		out = append(out, loc[len(loc)-1].(string)+":"+entry["type"].(string))
	}
	return strings.Join(out, " ")
}

// With envConfig.jobs the env runs serve's background jobs: the outbox
// worker built from the configuration (mail.driver log, mail.max_attempts,
// mail.retry_*) sends the welcome email of a registration.
func TestServesOutboxWorkerRunsWithJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{jobs: true})
	e.register("carol")
	pollUntil(t, "the welcome email is sent by serve's worker", func() bool {
		return e.outboxWhere(`kind = 'welcome' AND status = 'sent'`) == 1
	})
	if !strings.Contains(e.logs.String(), "carol@example.com") {
		t.Fatal("the log driver logged no message to carol@example.com")
	}
}
