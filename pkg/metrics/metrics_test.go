package metrics_test

import (
	"context"
	"errors"
	"github.com/authsvc/authsvc/pkg/metrics/metricstest"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/httpapi"
	"github.com/authsvc/authsvc/pkg/logship"
	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/metrics"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// The adapters satisfy the interfaces the other packages define.
var (
	_ account.Metrics          = metrics.AuthMetrics{}
	_ domain.CreditMetrics     = metrics.CreditMetrics{}
	_ mail.Metrics             = metrics.MailMetrics{}
	_ httpapi.RequestMetrics   = (*metrics.Metrics)(nil)
	_ httpapi.RateLimitMetrics = (*metrics.Metrics)(nil)
	_ metrics.LogShipStats     = (*logship.Shipper)(nil)
	_ metrics.OutboxStatsFunc  = (*storetest.DB)(nil).OutboxStats
)

func TestMetrics(t *testing.T) {
	t.Run("the adapters' events show in the scrape", func(t *testing.T) {
		m := metrics.New()
		a := m.Auth()
		a.LoginSucceeded()
		a.LoginFailed()
		a.LoginFailed()
		a.TokenIssued()
		a.TokenRefused("expired")
		c := m.Credits()
		c.Added(10050)
		c.Used(2500)
		c.Used(100)
		c.Refused("insufficient_credits")
		c.GroupCommit(1)
		c.GroupCommit(40)
		ml := m.Mail()
		ml.Sent("welcome")
		ml.SendFailed("password_reset")
		ml.GaveUp("password_reset")
		m.RateLimited("auth")
		m.RateLimitUnavailable()
		m.ObserveRequest("POST", "/auth/login", 200, 30*time.Millisecond)
		m.ObserveRequest("BREW", "unmatched", 405, time.Millisecond)

		fams := metricstest.Scrape(t, m.Handler())
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"authsvc_logins_total", []string{"result", "success"}, 1},
			{"authsvc_logins_total", []string{"result", "failure"}, 2},
			{"authsvc_tokens_issued_total", nil, 1},
			{"authsvc_tokens_refused_total", []string{"reason", "expired"}, 1},
			{"authsvc_credit_operations_total", []string{"type", "added"}, 1},
			{"authsvc_credit_operations_total", []string{"type", "used"}, 2},
			{"authsvc_credit_amount_total", []string{"type", "added"}, 100.5},
			{"authsvc_credit_amount_total", []string{"type", "used"}, 26},
			{"authsvc_credit_refusals_total", []string{"reason", "insufficient_credits"}, 1},
			{"authsvc_credit_group_commit_ops", nil, 2}, // the sample count
			{"authsvc_mail_sent_total", []string{"kind", "welcome"}, 1},
			{"authsvc_mail_send_failures_total", []string{"kind", "password_reset"}, 1},
			{"authsvc_mail_gave_up_total", []string{"kind", "password_reset"}, 1},
			{"authsvc_ratelimit_rejections_total", []string{"class", "auth"}, 1},
			{"authsvc_ratelimit_backend_errors_total", nil, 1},
			{"authsvc_http_requests_total", []string{"method", "POST", "route", "/auth/login", "status", "200"}, 1},
			{"authsvc_http_request_duration_seconds", []string{"route", "/auth/login"}, 1},
			{"authsvc_http_requests_total", []string{"method", "OTHER", "status", "405"}, 1},
		} {
			if got := fams.Value(c.name, c.labels...); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes"} {
			if fams.Value(name) < 0 {
				t.Errorf("%s missing", name)
			}
		}
	})

	t.Run("outbox depth and age are read at scrape time", func(t *testing.T) {
		m := metrics.New()
		m.RegisterOutbox(func(context.Context) (int, time.Duration, error) { return 3, 90 * time.Second, nil })
		fams := metricstest.Scrape(t, m.Handler())
		if got := fams.Value("authsvc_outbox_depth"); got != 3 {
			t.Errorf("depth = %v", got)
		}
		if got := fams.Value("authsvc_outbox_oldest_pending_seconds"); got != 90 {
			t.Errorf("oldest = %v", got)
		}
	})

	t.Run("a failing outbox query leaves the rest of the scrape", func(t *testing.T) {
		m := metrics.New()
		m.RegisterOutbox(func(context.Context) (int, time.Duration, error) { return 0, 0, errors.New("db down") })
		m.Auth().LoginSucceeded()
		fams := metricstest.Scrape(t, m.Handler())
		if fams.Value("authsvc_outbox_depth") != -1 || fams.Value("authsvc_logins_total") != 1 {
			t.Fatalf("got %v", fams)
		}
	})

	t.Run("log shipper counters", func(t *testing.T) {
		m := metrics.New()
		s := logship.New(logship.Options{Addr: "127.0.0.1:1", BufferLines: 1, MinBackoff: time.Hour})
		for range 10 {
			s.Write([]byte("{}\n")) //nolint:errcheck // never fails
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Close(ctx) //nolint:errcheck // nothing can be shipped
		m.RegisterLogShipper(s)
		if got := metricstest.Scrape(t, m.Handler()).Value("authsvc_logship_lines_dropped_total"); got != float64(s.DroppedLines()) || got < 8 {
			t.Fatalf("dropped = %v, shipper says %d", got, s.DroppedLines())
		}
		if got := metricstest.Scrape(t, m.Handler()).Value("authsvc_logship_connect_failures_total"); got < 1 {
			t.Fatalf("connect failures = %v", got)
		}
		// Log lines grow with what a request did (a reset request for a known
		// email logs more than for an unknown one): never on the public view.
		for name := range metricstest.Scrape(t, m.PublicHandler()) {
			if strings.HasPrefix(name, "authsvc_logship_") {
				t.Errorf("%s is on the public /metrics", name)
			}
		}
	})
}

func TestMetricsOnStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		m := metrics.New()
		m.RegisterDB(db)
		m.RegisterOutbox(db.OutboxStats)
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		fams := metricstest.Scrape(t, m.Handler())
		if got := fams.Value("go_sql_max_open_connections", "db_name", "authsvc"); got < 0 {
			t.Errorf("pool stats missing")
		}
		if got := fams.Value("authsvc_outbox_depth"); got != 0 {
			t.Errorf("outbox depth on an empty database = %v", got)
		}
	})
}
