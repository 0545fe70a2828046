package httpapi_test

import (
	"context"
	"encoding/json"
	"github.com/authsvc/authsvc/pkg/metrics/metricstest"
	"net/url"
	"testing"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func TestMetricsEndpoint(t *testing.T) {
	t.Run("requests are counted by route pattern and status", func(t *testing.T) {
		o := newOps(t, nil, opsConfig{})
		for range 3 {
			o.do(req{path: "/healthz"})
		}
		o.do(req{path: "/no/such/alice"})
		o.do(req{method: "POST", path: "/healthz"})
		fams := metricstest.Parse(t, o.do(req{path: "/metrics"}))
		for _, c := range []struct {
			labels []string
			want   float64
		}{
			{[]string{"method", "GET", "route", "/healthz", "status", "200"}, 3},
			{[]string{"method", "GET", "route", "unmatched", "status", "404"}, 1},
			{[]string{"method", "POST", "route", "unmatched", "status", "405"}, 1},
		} {
			if got := fams.Value("authsvc_http_requests_total", c.labels...); got != c.want {
				t.Errorf("requests%v = %v, want %v", c.labels, got, c.want)
			}
			if got := fams.Value("authsvc_http_request_duration_seconds", c.labels...); got != c.want {
				t.Errorf("latency count%v = %v, want %v", c.labels, got, c.want)
			}
		}
		for _, f := range fams["authsvc_http_requests_total"].GetMetric() {
			for _, l := range f.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == "/no/such/alice" {
					t.Error("a raw path became a label")
				}
			}
		}
		if fams.Value("go_goroutines") < 0 {
			t.Error("no Go runtime metrics")
		}
	})

	t.Run("metrics disabled is 404", func(t *testing.T) {
		o := newOps(t, nil, opsConfig{noMetrics: true})
		if rec := o.do(req{path: "/metrics"}); rec.Code != 404 {
			t.Fatalf("got %d", rec.Code)
		}
	})

	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		t.Run("logins, tokens and credit use show in the counters", func(t *testing.T) {
			testMetricsFlow(t, db)
		})
	})
}

func testMetricsFlow(t *testing.T, db *storetest.DB) {
	o := newOps(t, db, opsConfig{})
	o.metrics.RegisterDB(db)
	o.metrics.RegisterOutbox(db.OutboxStats)
	reg := o.do(req{method: "POST", path: "/auth/register",
		body: `{"username":"metricuser","email":"metricuser@example.com","password":"Qv7-metrics-pass!"}`})
	if reg.Code != 201 {
		t.Fatalf("register: %d %s", reg.Code, reg.Body)
	}
	loginForm := func(pw string) req {
		return req{method: "POST", path: "/auth/login", ctype: "application/x-www-form-urlencoded",
			body: url.Values{"username": {"metricuser"}, "password": {pw}}.Encode()}
	}
	ok := o.do(loginForm("Qv7-metrics-pass!"))
	if ok.Code != 200 {
		t.Fatalf("login: %d %s", ok.Code, ok.Body)
	}
	if bad := o.do(loginForm("wrong-password-1")); bad.Code != 401 {
		t.Fatalf("bad login: %d", bad.Code)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(ok.Body.Bytes(), &tok) //nolint:errcheck // checked by use
	if _, err := o.auth.SetAdmin(context.Background(), "metricuser", true); err != nil {
		t.Fatal(err)
	}
	bearer := map[string][]string{"Authorization": {"Bearer " + tok.AccessToken}}
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{"/credits/add", `{"amount": 10}`, 200},
		{"/credits/use", `{"amount": 2.5}`, 200},
		{"/credits/use", `{"amount": 100}`, 400},
	} {
		if rec := o.do(req{method: "POST", path: c.path, body: c.body, header: bearer}); rec.Code != c.want {
			t.Fatalf("%s %s: %d %s", c.path, c.body, rec.Code, rec.Body)
		}
	}
	o.do(req{path: "/auth/me", header: map[string][]string{"Authorization": {"Bearer not-a-token"}}})

	fams := metricstest.Parse(t, o.do(req{path: "/metrics"}))
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"authsvc_logins_total", []string{"result", "success"}, 1},
		{"authsvc_logins_total", []string{"result", "failure"}, 1},
		{"authsvc_tokens_issued_total", nil, 2}, // register and login
		{"authsvc_tokens_refused_total", []string{"reason", "malformed"}, 1},
		{"authsvc_credit_operations_total", []string{"type", "added"}, 1},
		{"authsvc_credit_operations_total", []string{"type", "used"}, 1},
		{"authsvc_credit_amount_total", []string{"type", "used"}, 2.5},
		{"authsvc_credit_refusals_total", []string{"reason", "insufficient_credits"}, 1},
		{"authsvc_http_requests_total", []string{"route", "/auth/login", "status", "401"}, 1},
		{"authsvc_http_requests_total", []string{"route", "/credits/use", "status", "200"}, 1},
		{"authsvc_outbox_depth", nil, 2}, // the welcome email and the verification link
		{"go_sql_max_open_connections", []string{"db_name", "authsvc"}, 32},
	} {
		if got := fams.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
