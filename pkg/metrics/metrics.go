// Package metrics is authsvc's Prometheus instrumentation: its own registry
// (never the global default), the collectors, and adapters that satisfy the
// small metrics interfaces other packages define (account.Metrics,
// domain.CreditMetrics, mail.Metrics, httpapi.RequestMetrics,
// httpapi.RateLimitMetrics). Every metric is named authsvc_*, plus the
// standard go_*, process_* and go_sql_* families.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

const namespace = "authsvc"

// Metrics holds the registry and every authsvc collector. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	logins        *prometheus.CounterVec
	tokensIssued  prometheus.Counter
	tokensRefused *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	rateLimitDown prometheus.Counter
	creditOps     *prometheus.CounterVec
	creditAmount  *prometheus.CounterVec
	creditRefused *prometheus.CounterVec
	creditHolds   *prometheus.CounterVec
	creditBatch   prometheus.Histogram
	mailSent      *prometheus.CounterVec
	mailFailed    *prometheus.CounterVec
	mailGaveUp    *prometheus.CounterVec
	logSuppressed prometheus.Counter
}

// New builds a registry with the Go runtime and process collectors and
// every authsvc metric.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = m.counterVec("http_requests_total", "HTTP requests by method, route pattern and status.",
		"method", "route", "status")
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace,
		Name: "http_request_duration_seconds", Help: "HTTP request latency by method, route pattern and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
		[]string{"method", "route", "status"})
	m.logins = m.counterVec("logins_total", "Login attempts by result (success, failure).", "result")
	m.tokensIssued = m.counter("tokens_issued_total", "Access tokens issued (login, register, refresh, CLI).")
	m.tokensRefused = m.counterVec("tokens_refused_total", "Access tokens refused, by reason.", "reason")
	m.rateLimited = m.counterVec("ratelimit_rejections_total", "Requests refused with 429 by the per-IP limit, by class.",
		"class")
	m.rateLimitDown = m.counter("ratelimit_backend_errors_total",
		"Requests served unlimited because the rate-limit store (Redis) failed.")
	m.creditOps = m.counterVec("credit_operations_total", "Credit ledger changes, by type (added, used).", "type")
	m.creditAmount = m.counterVec("credit_amount_total", "Credits moved, by type (added, used).", "type")
	m.creditRefused = m.counterVec("credit_refusals_total", "Refused credit adds, uses, holds and captures, by reason.", "reason")
	m.creditHolds = m.counterVec("credit_holds_total",
		"Credit holds created, and resolved by their new status (captured, voided, expired).", "event")
	m.creditBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace,
		Name: "credit_group_commit_ops", Help: "Debits and holds per group-commit transaction (credits.group_commit).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000}})
	m.mailSent = m.counterVec("mail_sent_total", "Emails handed to the mail driver, by kind.", "kind")
	m.mailFailed = m.counterVec("mail_send_failures_total", "Failed email send attempts, by kind.", "kind")
	m.mailGaveUp = m.counterVec("mail_gave_up_total", "Emails marked failed for good, by kind.", "kind")
	m.logSuppressed = m.counter("log_lines_suppressed_total",
		"Error log lines held back because an identical line was written in the sampling window.")
	m.reg.MustRegister(m.duration, m.creditBatch,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	m.reg.MustRegister(c)
	return c
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	m.reg.MustRegister(c)
	return c
}

// Registry is the registry everything is registered on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format. A collector
// that fails (e.g. the outbox query) is left out instead of failing the
// scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// privateFamilies are the metric name prefixes PublicHandler leaves out:
// series that move only when an account exists (the mail counters and the
// outbox gauges rise after a reset request for a known email, the pool
// statistics count the queries that queue its mail, and the log shipper's
// counters count the lines it logs).
var privateFamilies = []string{namespace + "_mail_", namespace + "_outbox_", namespace + "_logship_", "go_sql_"}

// PublicHandler is Handler without the series that could tell an
// unauthenticated caller whether an account exists (privateFamilies), for
// /metrics on the public listener when no server.metrics_addr is set.
func (m *Metrics) PublicHandler() http.Handler {
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		fams, err := m.reg.Gather()
		kept := fams[:0]
		for _, f := range fams {
			if !isPrivate(f.GetName()) {
				kept = append(kept, f)
			}
		}
		return kept, err
	})
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func isPrivate(name string) bool {
	for _, p := range privateFamilies {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// RegisterDB adds the connection-pool statistics of db (go_sql_* with
// db_name="authsvc").
func (m *Metrics) RegisterDB(db DBStats) {
	m.reg.MustRegister(newDBStatsCollector(db, namespace))
}

// knownMethods bounds the method label.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodDelete: true,
	http.MethodHead: true, http.MethodOptions: true, http.MethodPatch: true,
}

// ObserveRequest records one HTTP request (httpapi.RequestMetrics).
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(method, route, code).Inc()
	m.duration.WithLabelValues(method, route, code).Observe(d.Seconds())
}

// RateLimited counts a 429 of the per-IP limit (httpapi.RateLimitMetrics).
func (m *Metrics) RateLimited(class string) { m.rateLimited.WithLabelValues(class).Inc() }

// RateLimitUnavailable counts a request served unlimited because Redis
// failed (httpapi.RateLimitMetrics).
func (m *Metrics) RateLimitUnavailable() { m.rateLimitDown.Inc() }

// LogSuppressed counts one error log line held back by sampling.
func (m *Metrics) LogSuppressed() { m.logSuppressed.Inc() }
