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
