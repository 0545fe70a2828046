package mail_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/mail/mailtest"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// runWorker runs a worker until the returned stop is called; stop waits for
// Run to return (a send in flight finishes first).
func runWorker(t *testing.T, outbox domain.Outbox, sender mail.Sender, opts mail.WorkerOptions) (stop func()) {
	t.Helper()
	w := mail.NewWorker(outbox, sender, newRenderer(t, ""), opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	}
	t.Cleanup(stop)
	return stop
}

// A mail server slower per message than the lease, two workers on one
// database: the lease is renewed while a message is sent, and a worker whose
// queued claim expired does not send it, so every message arrives once.
func TestSlowServerTwoWorkersExactlyOnce(t *testing.T) {
	t.Parallel()
	// The lease is short for the test, but not so short that a renewal on
	// a loaded machine misses it (a send stopped that way could be
	// delivered and retried: SMTP's one ambiguity).
	const n = 6
	url := storetest.PostgresURL(t)
	dbA, dbB := storetest.Open(t, url), storetest.Open(t, url)
	srv := mailtest.Start(t, mailtest.Options{Delay: 1500 * time.Millisecond})
	enqueueWelcomes(t, dbA, "slow", n)
	ma, mb := &countingMetrics{}, &countingMetrics{}
	optsA, optsB := fastOptions(ma), fastOptions(mb)
	optsA.Lease, optsB.Lease = time.Second, time.Second
	stopA := runWorker(t, dbA, newSender(t, srv.MailConfig()), optsA)
	stopB := runWorker(t, dbB, newSender(t, srv.MailConfig()), optsB)
	srv.WaitFor(t, n, 60*time.Second)
	eventually(t, 30*time.Second, "every row marked sent", func() bool { return countStatus(t, dbA, "sent") == n })
	stopA()
	stopB()
	checkExactlyOnce(t, srv.Messages(), "slow", n)
	if sent := ma.sent.Load() + mb.sent.Load(); sent != n {
		t.Errorf("workers report %d sends, want %d", sent, n)
	}
	t.Logf("worker A sent %d, worker B %d", ma.sent.Load(), mb.sent.Load())
}

// A worker that dies after claiming (mid-send, before recording anything)
// holds its emails only until the lease runs out; another worker then sends
// each once.
func TestDeadWorkersLeaseExpires(t *testing.T) {
	t.Parallel()
	const n = 3
	url := storetest.PostgresURL(t)
	dbA, dbB := storetest.Open(t, url), storetest.Open(t, url)
	srv := mailtest.Start(t, mailtest.Options{})
	enqueueWelcomes(t, dbA, "orphan", n)
	// The dead worker: it claimed the emails and will never renew, send or
	// record them.
	claimed, err := dbA.ClaimEmails(context.Background(), n, 400*time.Millisecond)
	if err != nil || len(claimed) != n {
		t.Fatalf("claim: %d emails, %v", len(claimed), err)
	}
	m := &countingMetrics{}
	stop := runWorker(t, dbB, newSender(t, srv.MailConfig()), fastOptions(m))
	srv.WaitFor(t, n, 30*time.Second)
	eventually(t, 30*time.Second, "every row marked sent", func() bool { return countStatus(t, dbB, "sent") == n })
	stop()
	checkExactlyOnce(t, srv.Messages(), "orphan", n)
	var attempts []int
	if err := storetest.SQL(t, dbB).Select(&attempts, `SELECT attempts FROM email_outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	for _, a := range attempts {
		if a != 2 {
			t.Fatalf("attempts %v, want 2 each (the dead claim, then the send)", attempts)
		}
	}
	// The dead worker's late outcome cannot overwrite the real one.
	if err := dbA.MarkEmailSent(context.Background(), claimed[0]); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("stale mark after the lease was taken: %v, want ECONFLICT", err)
	}
}
