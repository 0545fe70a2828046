package metrics

import (
	"context"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/prometheus/client_golang/prometheus"
)

// AuthMetrics satisfies account.Metrics: logins and tokens.
type AuthMetrics struct{ m *Metrics }

// Auth returns the adapter for account.Options.Metrics.
func (m *Metrics) Auth() AuthMetrics { return AuthMetrics{m} }

// LoginSucceeded counts a successful login.
func (a AuthMetrics) LoginSucceeded() { a.m.logins.WithLabelValues("success").Inc() }

// LoginFailed counts a failed login.
func (a AuthMetrics) LoginFailed() { a.m.logins.WithLabelValues("failure").Inc() }

// TokenIssued counts an issued access token.
func (a AuthMetrics) TokenIssued() { a.m.tokensIssued.Inc() }

// TokenRefused counts a refused access token by reason (a bounded set of
// constants).
func (a AuthMetrics) TokenRefused(reason string) { a.m.tokensRefused.WithLabelValues(reason).Inc() }

// CreditMetrics satisfies domain.CreditMetrics: ledger outcomes.
type CreditMetrics struct{ m *Metrics }

// Credits returns the adapter for credits.Options.Metrics.
func (m *Metrics) Credits() CreditMetrics { return CreditMetrics{m} }

// Added counts a new add of amount.
func (c CreditMetrics) Added(amount domain.Cents) { c.record("added", amount) }

// Used counts a new use of amount.
func (c CreditMetrics) Used(amount domain.Cents) { c.record("used", amount) }

// Refused counts a refused add or use by its error reason.
func (c CreditMetrics) Refused(reason string) { c.m.creditRefused.WithLabelValues(reason).Inc() }

// HoldEvent counts a hold created or resolved (domain.HoldMetrics).
func (c CreditMetrics) HoldEvent(event string) { c.m.creditHolds.WithLabelValues(event).Inc() }

// GroupCommit observes the size of one group-commit transaction
// (domain.GroupCommitMetrics).
func (c CreditMetrics) GroupCommit(ops int) { c.m.creditBatch.Observe(float64(ops)) }

func (c CreditMetrics) record(typ string, amount domain.Cents) {
	c.m.creditOps.WithLabelValues(typ).Inc()
	c.m.creditAmount.WithLabelValues(typ).Add(float64(amount) / 100)
}

// MailMetrics satisfies mail.Metrics: the outbox worker's sends.
type MailMetrics struct{ m *Metrics }

// Mail returns the adapter for mail's worker options.
func (m *Metrics) Mail() MailMetrics { return MailMetrics{m} }

// Sent counts an email handed to the driver.
func (a MailMetrics) Sent(kind string) { a.m.mailSent.WithLabelValues(kind).Inc() }

// SendFailed counts a failed send attempt.
func (a MailMetrics) SendFailed(kind string) { a.m.mailFailed.WithLabelValues(kind).Inc() }

// GaveUp counts an email marked failed for good.
func (a MailMetrics) GaveUp(kind string) { a.m.mailGaveUp.WithLabelValues(kind).Inc() }

// OutboxStatsFunc reports the number of pending emails and the age of the
// oldest (store.DB.OutboxStats).
type OutboxStatsFunc func(ctx context.Context) (depth int, oldest time.Duration, err error)

// RegisterOutbox adds authsvc_outbox_depth and
// authsvc_outbox_oldest_pending_seconds, read by stats at each scrape
// (bounded by a 5 s timeout; on error both are left out of that scrape).
func (m *Metrics) RegisterOutbox(stats OutboxStatsFunc) {
	m.reg.MustRegister(&outboxCollector{stats: stats,
		depth: prometheus.NewDesc(namespace+"_outbox_depth", "Emails waiting in the outbox.", nil, nil),
		oldest: prometheus.NewDesc(namespace+"_outbox_oldest_pending_seconds",
			"Age of the oldest pending email (0 when none).", nil, nil)})
}

type outboxCollector struct {
	stats         OutboxStatsFunc
	depth, oldest *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.oldest }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	depth, oldest, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds())
}

// LogShipStats reports the Logstash shipper's counters (logship.Shipper.Stats).
type LogShipStats interface {
	// ShippedLines, DroppedLines and ConnectFailures are running totals.
	ShippedLines() uint64
	DroppedLines() uint64
	ConnectFailures() uint64
}

// RegisterLogShipper adds authsvc_logship_lines_shipped_total,
// authsvc_logship_lines_dropped_total and
// authsvc_logship_connect_failures_total.
func (m *Metrics) RegisterLogShipper(s LogShipStats) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "logship_lines_shipped_total",
			Help: "Log lines written to Logstash."}, func() float64 { return float64(s.ShippedLines()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "logship_lines_dropped_total",
			Help: "Log lines dropped because the Logstash buffer was full or the connection failed."},
			func() float64 { return float64(s.DroppedLines()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "logship_connect_failures_total",
			Help: "Failed attempts to connect to Logstash."}, func() float64 { return float64(s.ConnectFailures()) }))
}
