package mail_test

import (
	"context"
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/mail/mailtest"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/rs/zerolog"
)

// countingMetrics counts the worker's events.
type countingMetrics struct{ sent, failed, gaveUp atomic.Int64 }

func (m *countingMetrics) Sent(string)       { m.sent.Add(1) }
func (m *countingMetrics) SendFailed(string) { m.failed.Add(1) }
func (m *countingMetrics) GaveUp(string)     { m.gaveUp.Add(1) }

func fastOptions(metrics mail.Metrics) mail.WorkerOptions {
	return mail.WorkerOptions{PollInterval: 10 * time.Millisecond,
		Retry:  mail.RetryPolicy{MaxAttempts: 8, Base: time.Millisecond, Max: time.Millisecond},
		Logger: zerolog.Nop(), Metrics: metrics}
}

// startWorker runs a worker until the test ends, and checks that Run returns
// once its context is cancelled.
func startWorker(t *testing.T, outbox domain.Outbox, sender mail.Sender, opts mail.WorkerOptions) *mail.Worker {
	t.Helper()
	w := mail.NewWorker(outbox, sender, newRenderer(t, ""), opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
	return w
}

// enqueueWelcomes queues n welcome emails to distinct recipients.
func enqueueWelcomes(t *testing.T, db *storetest.DB, prefix string, n int) {
	t.Helper()
	msgs := make([]*domain.OutboundEmail, n)
	for i := range msgs {
		user := fmt.Sprintf("%s%d", prefix, i)
		msgs[i] = &domain.OutboundEmail{Kind: domain.EmailWelcome, Recipient: user + "@example.com",
			Data: map[string]string{domain.EmailKeyUsername: user}}
	}
	if err := db.EnqueueEmails(context.Background(), msgs...); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

// eventually polls cond until it holds, failing t after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func countStatus(t *testing.T, db *storetest.DB, status string) int {
	t.Helper()
	var n int
	if err := storetest.SQL(t, db).Get(&n, storetest.SQL(t, db).Rebind(`SELECT COUNT(*) FROM email_outbox WHERE status = ?`), status); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkExactlyOnce asserts that every recipient of prefix0..prefix(n-1) got
// exactly one message and that nothing else arrived.
func checkExactlyOnce(t *testing.T, msgs []mailtest.Message, prefix string, n int) {
	t.Helper()
	got := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.EnvelopeTo {
			got[to]++
		}
	}
	for i := range n {
		if to := fmt.Sprintf("%s%d@example.com", prefix, i); got[to] != 1 {
			t.Errorf("%s received %d messages, want 1", to, got[to])
		}
	}
	if len(msgs) != n {
		t.Errorf("%d messages arrived, want %d", len(msgs), n)
	}
}

func TestWorkerDeliversDespiteAnOutage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		const n = 20
		t.Run("server not listening, then up: each message arrives once", func(t *testing.T) {
			addr := testkit.FreeAddr(t)
			host, port, _ := net.SplitHostPort(addr)
			var portNum int
			if _, err := fmt.Sscan(port, &portNum); err != nil {
				t.Fatal(err)
			}
			cfg := mail.Config{Driver: mail.DriverSMTP, Host: host, Port: portNum, From: "authsvc@example.com", Timeout: 5 * time.Second}
			metrics := &countingMetrics{}
			startWorker(t, db, newSender(t, cfg), fastOptions(metrics))
			enqueueWelcomes(t, db, "down", n)
			eventually(t, 20*time.Second, "failed attempts on every message", func() bool { return metrics.failed.Load() >= 2*n })

			srv := mailtest.Start(t, mailtest.Options{Addr: addr})
			srv.WaitFor(t, n, 20*time.Second)
			eventually(t, 20*time.Second, "every row marked sent", func() bool { return countStatus(t, db, "sent") == n })
			checkExactlyOnce(t, srv.Messages(), "down", n)
			if metrics.gaveUp.Load() != 0 {
				t.Errorf("%d messages given up, want none", metrics.gaveUp.Load())
			}
		})

		t.Run("server rejecting with 451, then accepting: each message arrives once", func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{})
			srv.RejectNext(2 * n)
			metrics := &countingMetrics{}
			startWorker(t, db, newSender(t, srv.MailConfig()), fastOptions(metrics))
			enqueueWelcomes(t, db, "busy", n)
			srv.WaitFor(t, n, 20*time.Second)
			eventually(t, 20*time.Second, "every row marked sent", func() bool { return countStatus(t, db, "sent") == 2*n })
			checkExactlyOnce(t, srv.Messages(), "busy", n)
			if got := metrics.failed.Load(); got != 2*n {
				t.Errorf("%d failed attempts, want %d", got, 2*n)
			}
		})
	})
}

func TestWorkerGivesUpAfterMaxAttempts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		srv := mailtest.Start(t, mailtest.Options{})
		srv.RejectNext(1 << 30)
		metrics := &countingMetrics{}
		opts := fastOptions(metrics)
		opts.Retry.MaxAttempts = 3
		startWorker(t, db, newSender(t, srv.MailConfig()), opts)
		enqueueWelcomes(t, db, "doomed", 1)
		eventually(t, 20*time.Second, "the row marked failed", func() bool { return countStatus(t, db, "failed") == 1 })

		var row struct {
			Attempts  int    `db:"attempts"`
			LastError string `db:"last_error"`
			Data      string `db:"data"`
		}
		if err := storetest.SQL(t, db).Get(&row, `SELECT attempts, last_error, data FROM email_outbox`); err != nil {
			t.Fatal(err)
		}
		if row.Attempts != 3 || row.LastError == "" || row.Data != "{}" {
			t.Errorf("row %+v, want 3 attempts, the last error, data cleared", row)
		}

		t.Run("a failed row is not retried", func(t *testing.T) {
			srv.RejectNext(0)
			enqueueWelcomes(t, db, "sentinel", 1)
			// The sentinel's delivery proves the worker polled again.
			got := srv.WaitFor(t, 1, 20*time.Second)
			if len(got) != 1 || got[0].EnvelopeTo[0] != "sentinel0@example.com" {
				t.Fatalf("got %d messages (first to %v), want only the sentinel", len(got), got[0].EnvelopeTo)
			}
			var attempts int
			if err := storetest.SQL(t, db).Get(&attempts, storetest.SQL(t, db).Rebind(`SELECT attempts FROM email_outbox WHERE recipient = ?`), "doomed0@example.com"); err != nil {
				t.Fatal(err)
			}
			if attempts != 3 || metrics.gaveUp.Load() != 1 || metrics.failed.Load() != 3 {
				t.Errorf("attempts %d, gave up %d, failed %d; want 3, 1, 3", attempts, metrics.gaveUp.Load(), metrics.failed.Load())
			}
		})
	})
}

func TestWorkerFailsUnsendableRowsAtOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		srv := mailtest.Start(t, mailtest.Options{})
		startWorker(t, db, newSender(t, srv.MailConfig()), fastOptions(nil))
		err := db.EnqueueEmails(context.Background(),
			&domain.OutboundEmail{Kind: "newsletter", Recipient: "a@example.com", Data: map[string]string{"username": "a"}},
			&domain.OutboundEmail{Kind: domain.EmailPasswordReset, Recipient: "b@example.com", Data: map[string]string{"username": "b"}},
			&domain.OutboundEmail{Kind: domain.EmailWelcome, Recipient: "no-at-sign", Data: map[string]string{"username": "c"}})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "three failed rows", func() bool { return countStatus(t, db, "failed") == 3 })
		var maxAttempts int
		if err := storetest.SQL(t, db).Get(&maxAttempts, `SELECT MAX(attempts) FROM email_outbox`); err != nil {
			t.Fatal(err)
		}
		if maxAttempts != 1 || len(srv.Messages()) != 0 {
			t.Errorf("max attempts %d, %d messages sent; want 1 and none", maxAttempts, len(srv.Messages()))
		}
	})
}

func TestTwoWorkersOnePostgresDatabase(t *testing.T) {
	const n = 500
	url := storetest.PostgresURL(t)
	dbA, dbB := storetest.Open(t, url), storetest.Open(t, url)
	srv := mailtest.Start(t, mailtest.Options{})
	enqueueWelcomes(t, dbA, "user", n)
	ma, mb := &countingMetrics{}, &countingMetrics{}
	startWorker(t, dbA, newSender(t, srv.MailConfig()), fastOptions(ma))
	startWorker(t, dbB, newSender(t, srv.MailConfig()), fastOptions(mb))
	srv.WaitFor(t, n, 60*time.Second)
	eventually(t, 30*time.Second, "every row marked sent", func() bool { return countStatus(t, dbA, "sent") == n })
	checkExactlyOnce(t, srv.Messages(), "user", n)
	if sent := ma.sent.Load() + mb.sent.Load(); sent != n {
		t.Errorf("workers report %d sends, want %d", sent, n)
	}
	t.Logf("worker A sent %d, worker B %d", ma.sent.Load(), mb.sent.Load())
}

// blockingSender holds each Send until released.
type blockingSender struct {
	started chan *mail.Message
	release chan struct{}
	mu      sync.Mutex
	sent    []string
}

func (s *blockingSender) Send(_ context.Context, m *mail.Message) error {
	s.started <- m
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m.To)
	return nil
}

func TestWorkerShutdown(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		sender := &blockingSender{started: make(chan *mail.Message, 1), release: make(chan struct{})}
		w := mail.NewWorker(db, sender, newRenderer(t, ""), fastOptions(nil))
		enqueueWelcomes(t, db, "late", 3)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()

		first := <-sender.started
		cancel()
		select {
		case err := <-done:
			t.Fatalf("Run returned (%v) while a send was in flight", err)
		default:
		}
		close(sender.release)
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		t.Run("the in-flight send finishes and is recorded", func(t *testing.T) {
			if len(sender.sent) != 1 || sender.sent[0] != first.To {
				t.Errorf("sent %v, want only %s", sender.sent, first.To)
			}
			if got := countStatus(t, db, "sent"); got != 1 {
				t.Errorf("%d rows sent, want 1", got)
			}
		})
		t.Run("the rest of the batch is released without an attempt counted", func(t *testing.T) {
			var n int
			if err := storetest.SQL(t, db).Get(&n, `SELECT COUNT(*) FROM email_outbox WHERE status = 'pending' AND attempts = 0`); err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("%d pending rows at attempt 0, want 2", n)
			}
		})
	})
}

func TestProductionLogDriverWritesNoBodyLinkOrToken(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		var buf testkit.SyncBuffer
		log := zerolog.New(&buf).Level(zerolog.InfoLevel)
		sender, err := mail.NewSender(mail.Config{Driver: mail.DriverLog, Production: true}, log)
		if err != nil {
			t.Fatal(err)
		}
		reset := sampleEmails()[1]
		if err := db.EnqueueEmails(context.Background(), reset); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := storetest.SQL(t, db).Get(&id, `SELECT id FROM email_outbox`); err != nil {
			t.Fatal(err)
		}
		startWorker(t, db, sender, fastOptions(nil))
		eventually(t, 10*time.Second, "the reset email marked sent", func() bool { return countStatus(t, db, "sent") == 1 })
		out := buf.String()
		for _, want := range []string{`"to":"` + reset.Recipient + `"`, `"template":"password_reset"`, fmt.Sprintf(`"outbox_id":%d`, id)} {
			if !strings.Contains(out, want) {
				t.Errorf("log misses %s:\n%s", want, out)
			}
		}
		for _, never := range []string{resetLink, "token=", `"text"`, `"subject"`, reset.Data[domain.EmailKeyUsername]} {
			if strings.Contains(out, never) {
				t.Errorf("production log contains %q:\n%s", never, out)
			}
		}
	})
}
