package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	const allowed = "https://app.example.com"
	o := newOps(t, nil, opsConfig{corsOrigins: []string{allowed}})

	t.Run("an allowed origin gets the headers", func(t *testing.T) {
		rec := o.do(req{path: "/healthz", header: http.Header{"Origin": {allowed}}})
		if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != allowed {
			t.Fatalf("%d, headers %v", rec.Code, rec.Header())
		}
		exposed := strings.ToLower(rec.Header().Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"} {
			if !strings.Contains(exposed, h) {
				t.Errorf("%s not exposed: %q", h, exposed)
			}
		}
	})

	t.Run("an unknown origin gets none", func(t *testing.T) {
		rec := o.do(req{path: "/healthz", header: http.Header{"Origin": {"https://evil.example"}}})
		if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%d, headers %v", rec.Code, rec.Header())
		}
	})

	t.Run("a preflight is answered though routes are method-specific", func(t *testing.T) {
		rec := o.do(req{method: "OPTIONS", path: "/auth/users/alice/password", header: http.Header{
			"Origin": {allowed}, "Access-Control-Request-Method": {"PUT"},
			"Access-Control-Request-Headers": {"authorization, content-type"}}})
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != allowed {
			t.Fatalf("%d, headers %v", rec.Code, rec.Header())
		}
		if !strings.Contains(rec.Header().Get("Access-Control-Allow-Methods"), "PUT") {
			t.Errorf("methods %q", rec.Header().Get("Access-Control-Allow-Methods"))
		}
		headers := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
		if !strings.Contains(headers, "authorization") || !strings.Contains(headers, "content-type") {
			t.Errorf("headers %q", headers)
		}
	})

	t.Run("a preflight from an unknown origin is not allowed", func(t *testing.T) {
		rec := o.do(req{method: "OPTIONS", path: "/auth/login", header: http.Header{
			"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"POST"}}})
		if rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Header().Get("Access-Control-Allow-Methods") != "" {
			t.Fatalf("headers %v", rec.Header())
		}
	})

	t.Run("with no origins configured nobody is allowed", func(t *testing.T) {
		none := newOps(t, nil, opsConfig{})
		for _, r := range []req{
			{path: "/healthz", header: http.Header{"Origin": {allowed}}},
			{method: "OPTIONS", path: "/auth/login", header: http.Header{"Origin": {allowed}, "Access-Control-Request-Method": {"POST"}}},
		} {
			if rec := none.do(r); rec.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s: headers %v", r.method, rec.Header())
			}
		}
	})
}
