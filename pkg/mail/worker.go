package mail

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// Worker defaults.
const (
	DefaultPollInterval = 500 * time.Millisecond
	DefaultBatchSize    = 10
	// DefaultLease is how long a claimed email stays invisible to other
	// workers. The worker renews it every third of a lease while it sends
	// and stops a send whose lease it cannot keep, so a slow server never
	// gets a message twice.
	DefaultLease = 2 * time.Minute
	// storeTimeout bounds each outcome write, which outlives Run's context.
	storeTimeout = 10 * time.Second
)

// Metrics receives the worker's events. The ops side backs it with
// Prometheus counters; queue depth and age come from Outbox.OutboxStats.
type Metrics interface {
	Sent(kind string)       // a message reached the driver
	SendFailed(kind string) // one attempt failed (it is retried or given up)
	GaveUp(kind string)     // a message was marked failed for good
}

// NopMetrics discards every event.
type NopMetrics struct{}

// Sent does nothing.
func (NopMetrics) Sent(string) {}

// SendFailed does nothing.
func (NopMetrics) SendFailed(string) {}

// GaveUp does nothing.
func (NopMetrics) GaveUp(string) {}

// WorkerOptions tune a Worker; zero values take the defaults, except Retry,
// whose defaults are the configuration's (mail.max_attempts,
// mail.retry_base, mail.retry_max) and which the composition root passes.
type WorkerOptions struct {
	// Retry is the one mail retry policy: attempts and backoff.
	Retry        RetryPolicy
	PollInterval time.Duration // how often the outbox is checked; default 500ms
	BatchSize    int           // emails claimed per query; default 10
	Lease        time.Duration // see DefaultLease
	Logger       zerolog.Logger
	Metrics      Metrics // default NopMetrics
}

// RetryPolicy is the one mail retry policy: an email is tried at most
// MaxAttempts times (at least once); before retry number n (1 after the
// first failure) the worker waits Base·2^(n-1), capped at Max, of which a
// random half is jitter ("equal jitter").
type RetryPolicy struct {
	MaxAttempts int
	Base, Max   time.Duration
}

// Delay returns the wait before retry number attempt.
func (p RetryPolicy) Delay(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if d <= 1 {
		return max(d, 0)
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter of a retry delay, not a secret
}

// attempts is MaxAttempts, at least 1.
func (p RetryPolicy) attempts() int { return max(p.MaxAttempts, 1) }

// Worker drains the outbox: it claims due emails, renders and sends them, and
// records each outcome. Several workers, in one process or many, may drain
// one database: a claimed email is leased to one worker.
type Worker struct {
	store    domain.Outbox
	sender   Sender
	renderer *Renderer
	opts     WorkerOptions
	log      zerolog.Logger
}

// NewWorker returns a worker over store that sends with sender.
func NewWorker(store domain.Outbox, sender Sender, renderer *Renderer, opts WorkerOptions) *Worker {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Metrics == nil {
		opts.Metrics = NopMetrics{}
	}
	return &Worker{store: store, sender: sender, renderer: renderer, opts: opts,
		log: opts.Logger.With().Str("component", "mail").Logger()}
}

// Run drains the outbox until ctx is cancelled, then returns nil. A send in
// flight when ctx is cancelled finishes and its outcome is recorded; emails
// claimed but not yet sent are released for the next run. Call Run once.
func (w *Worker) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		w.drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		timer.Reset(w.opts.PollInterval)
	}
}

// drain claims and processes batches until the outbox has nothing due.
func (w *Worker) drain(ctx context.Context) {
	for ctx.Err() == nil {
		claimedAt := time.Now()
		batch, err := w.store.ClaimEmails(ctx, w.opts.BatchSize, w.opts.Lease)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn().Err(err).Msg("claim outbox emails")
			}
			return
		}
		for i, e := range batch {
			if ctx.Err() != nil {
				w.release(batch[i:])
				return
			}
			w.process(context.WithoutCancel(ctx), e, claimedAt.Add(w.opts.Lease))
		}
		if len(batch) < w.opts.BatchSize {
			return
		}
	}
}

// Why a leased send ends without an answer from the driver.
var (
	errLeaseLost     = errors.New("email lease taken by another worker")
	errLeaseExpiring = errors.New("email lease could not be renewed in time")
)

// process renders and sends one claimed email and records the outcome.
// leaseEnd is when the claim's lease runs out (by the local clock, measured
// from before the claim, so never later than the database's).
func (w *Worker) process(ctx context.Context, e *domain.OutboundEmail, leaseEnd time.Time) {
	msg, err := w.renderer.Render(e.Kind, e.Recipient, e.Data)
	if err == nil {
		msg.OutboxID = e.ID
		err = w.sendLeased(ctx, e, msg, leaseEnd)
	}
	if errors.Is(err, errLeaseLost) {
		// Another worker claimed it since: it is that worker's to send.
		w.log.Warn().Int64("email_id", e.ID).Str("kind", e.Kind).Int("attempt", e.Attempts).
			Msg("email lease lost before the send completed; left to the worker that holds it")
		return
	}
	if err == nil {
		w.record(ctx, e, "mark sent", func(ctx context.Context) error { return w.store.MarkEmailSent(ctx, e) })
		w.opts.Metrics.Sent(e.Kind)
		w.log.Debug().Int64("email_id", e.ID).Str("kind", e.Kind).Int("attempt", e.Attempts).Msg("email sent")
		return
	}
	w.opts.Metrics.SendFailed(e.Kind)
	permanent := domain.ErrorCode(err) == domain.EINVALID
	if permanent || e.Attempts >= w.opts.Retry.attempts() {
		w.record(ctx, e, "mark failed", func(ctx context.Context) error { return w.store.FailEmail(ctx, e, err.Error()) })
		w.opts.Metrics.GaveUp(e.Kind)
		w.log.Error().Err(err).Int64("email_id", e.ID).Str("kind", e.Kind).Str("recipient", e.Recipient).
			Int("attempts", e.Attempts).Bool("permanent", permanent).Msg("email failed for good")
		return
	}
	delay := w.opts.Retry.Delay(e.Attempts)
	w.record(ctx, e, "reschedule", func(ctx context.Context) error { return w.store.RetryEmail(ctx, e, delay, err.Error()) })
	w.log.Warn().Err(err).Int64("email_id", e.ID).Str("kind", e.Kind).Int("attempt", e.Attempts).
		Int("max_attempts", w.opts.Retry.attempts()).Dur("retry_in", delay).Msg("email send failed; will retry")
}

// sendLeased sends msg while holding e's lease: it renews the lease first
// when half of it is gone (the fence: a lease taken by another worker means
// no send), then every third of a lease while the driver works. When the
// lease is lost, or cannot be renewed before it runs out, the send's
// context is cancelled, so this worker never sends an email another worker
// may be sending too. (An SMTP server that stored the message but whose
// final reply never arrived is the one case left; SMTP cannot tell.)
func (w *Worker) sendLeased(ctx context.Context, e *domain.OutboundEmail, msg *Message, leaseEnd time.Time) error {
	lease := w.opts.Lease
	margin := lease / 10
	if time.Until(leaseEnd) < lease/2 {
		start := time.Now()
		if err := w.renew(ctx, e); err != nil {
			return err
		}
		leaseEnd = start.Add(lease)
	}
	sendCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	var heartbeat sync.WaitGroup
	heartbeat.Go(func() {
		for {
			wait := min(lease/3, time.Until(leaseEnd.Add(-margin)))
			timer := time.NewTimer(max(wait, 0))
			select {
			case <-done:
				timer.Stop()
				return
			case <-timer.C:
			}
			if time.Now().After(leaseEnd.Add(-margin)) {
				cancel(errLeaseExpiring)
				return
			}
			start := time.Now()
			switch err := w.renew(ctx, e); {
			case err == nil:
				leaseEnd = start.Add(lease)
			case errors.Is(err, errLeaseLost):
				cancel(errLeaseLost)
				return
			default: // try again; the expiry check above stops the send in time
				w.log.Warn().Err(err).Int64("email_id", e.ID).Msg("outbox: renew lease")
			}
		}
	})
	err := w.sender.Send(sendCtx, msg)
	close(done)
	heartbeat.Wait()
	if cause := context.Cause(sendCtx); cause != nil && err != nil {
		if errors.Is(cause, errLeaseLost) || errors.Is(cause, errLeaseExpiring) {
			return fmt.Errorf("%w: %w", cause, err)
		}
	}
	return err
}

// renew extends e's lease, bounded by a third of the lease; a lost lease is
// errLeaseLost.
func (w *Worker) renew(ctx context.Context, e *domain.OutboundEmail) error {
	ctx, cancel := context.WithTimeout(ctx, max(w.opts.Lease/3, time.Millisecond))
	defer cancel()
	err := w.store.RenewEmailLease(ctx, e, w.opts.Lease)
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return fmt.Errorf("%w: %w", errLeaseLost, err)
	}
	return err
}

// record runs one outcome write with its own timeout and logs its failure.
// A lost lease (ECONFLICT) means another worker owns the email now.
func (w *Worker) record(ctx context.Context, e *domain.OutboundEmail, what string, write func(context.Context) error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := write(ctx); err != nil {
		w.log.Error().Err(err).Int64("email_id", e.ID).Str("kind", e.Kind).Msg("outbox: " + what)
	}
}

// release hands unsent claimed emails back to the queue at shutdown.
func (w *Worker) release(batch []*domain.OutboundEmail) {
	for _, e := range batch {
		w.record(context.Background(), e, "release", func(ctx context.Context) error { return w.store.ReleaseEmail(ctx, e) })
	}
}
