package cmd_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Review finding 3: no unauthenticated endpoint tells whether an account
// exists. A reset request for a known email makes the outbox worker send
// mail; the mail counters, outbox gauges and pool statistics move, so they
// must not be on the public listener.
func TestMetricsCannotTellWhetherAnAccountExists(t *testing.T) {
	t.Parallel()
	t.Run("with server.metrics_addr, /metrics moves to its own listener", func(t *testing.T) {
		t.Parallel()
		// A kernel-picked port, read from the log: no race with parallel tests.
		s := newCLI(t, "", "AUTHSVC_SERVER_METRICS_ADDR=127.0.0.1:0").startServer()
		var metricsAddr string
		waitFor(t, func() bool {
			m := regexp.MustCompile(`metrics listening.*addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.logs.String())
			if m != nil {
				metricsAddr = m[1]
			}
			return m != nil
		})
		if code, _ := s.get(t, "/metrics"); code != http.StatusNotFound {
			t.Fatalf("public /metrics: %d, want 404", code)
		}
		s.resetKnownAccount(t)
		private := &server{base: "http://" + metricsAddr}
		waitFor(t, func() bool {
			_, body := private.get(t, "/metrics")
			return strings.Contains(body, `authsvc_mail_sent_total{kind="password_reset"} 1`)
		})
		if code, _ := private.get(t, "/auth/me"); code != http.StatusNotFound {
			t.Fatalf("the metrics listener serves the API: %d", code)
		}
	})
	t.Run("without it, the public /metrics leaves out every series that could tell", func(t *testing.T) {
		t.Parallel()
		s := newCLI(t, "").startServer()
		s.resetKnownAccount(t)
		waitFor(t, func() bool { return strings.Contains(s.logs.String(), "template=password_reset") })
		code, body := s.get(t, "/metrics")
		if code != http.StatusOK || !strings.Contains(body, "authsvc_http_requests_total") {
			t.Fatalf("public /metrics: %d\n%s", code, body)
		}
		for _, never := range []string{"authsvc_mail_", "authsvc_outbox_", "go_sql_"} {
			if strings.Contains(body, never) {
				t.Errorf("public /metrics shows %s*", never)
			}
		}
	})
}

// resetKnownAccount registers an account and asks for its password reset.
func (s *server) resetKnownAccount(t *testing.T) {
	t.Helper()
	post := func(path, body string) {
		resp, err := http.Post(s.base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	post("/auth/register", `{"username":"known","email":"known@example.com","password":"Kn0wn-account-pw"}`)
	post("/auth/password-reset-request", `{"email":"known@example.com"}`)
}
