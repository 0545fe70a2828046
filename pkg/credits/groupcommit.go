package credits

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// GroupCommit coalesces concurrent debits and new holds of one account into
// shared database transactions.
//
// A debit or hold of an account that has no transaction in flight goes to
// the store at once, alone, through the ordinary ApplyCredit or CreateHold
// path: no added latency when the account is not contended. Those of that
// account that arrive while it is in flight queue up, in arrival order;
// when it ends, the first maxBatch of them are applied together by one
// ApplyCreditBatch (lock the balance row once, each op decided on its own
// against the running balance, one multi-row INSERT of the debits' rows, one
// commit) and each caller is answered after that commit, with its own
// outcome. A queued op waits for at most the transaction in flight and its
// own batch (plus one batch per maxBatch ops queued before it). A database
// error fails every op of its batch and none is reported applied.
//
// Captures and voids are not batched: they lock their hold's row before the
// balance row, and are keyed by hold, not by account; they interleave with
// the batches on the balance row's lock.
//
// The queue is per process; several replicas still serialize on the balance
// row's lock, each with its own batches. A caller whose context ends while
// its op is still queued leaves the queue with the context's error (the op
// was not applied); once its batch has started, it waits for the batch's
// outcome, as a single debit waits for its commit. The batch's transaction
// runs under none of the callers' cancellations, until the latest of their
// deadlines (when they all have one).
type GroupCommit struct {
	store    GroupStore
	maxBatch int
	metrics  domain.GroupCommitMetrics // nil: none

	mu       sync.Mutex
	accounts map[int64]*account // accounts with a transaction in flight

	batches, batched atomic.Int64 // batches of two or more run, and their ops
}

// Stats returns how many batches of two or more ops ran and how many ops
// they carried in all.
func (g *GroupCommit) Stats() (batches, ops int64) {
	return g.batches.Load(), g.batched.Load()
}

// account is the queue of one account with a transaction in flight.
type account struct {
	queue []*queued
}

// GroupStore is what a GroupCommit needs of the store: the single paths and
// the batch.
type GroupStore interface {
	ApplyCredit(ctx context.Context, e *domain.LedgerEntry) (*domain.Transaction, bool, error)
	CreateHold(ctx context.Context, h *domain.NewHold) (*domain.Hold, bool, error)
	domain.CreditBatchStore
}

// queued is one waiting op; done receives its outcome once.
type queued struct {
	ctx   context.Context
	op    domain.BatchOp
	taken bool // in a batch that has started (guarded by GroupCommit.mu)
	done  chan domain.CreditOutcome
}

// NewGroupCommit returns a GroupCommit over store that applies at most
// maxBatch ops at once (credits.group_commit_max_batch, which the
// configuration validates; below 1 is a programming error).
func NewGroupCommit(store GroupStore, maxBatch int) *GroupCommit {
	if maxBatch < 1 {
		panic("credits: NewGroupCommit with maxBatch < 1")
	}
	return &GroupCommit{store: store, maxBatch: maxBatch, accounts: map[int64]*account{}}
}

// Apply applies one debit (e.Type must be credit_used), alone or together
// with concurrent debits and holds of the same account, with ApplyCredit's
// results.
func (g *GroupCommit) Apply(ctx context.Context, e *domain.LedgerEntry) (*domain.Transaction, bool, error) {
	o := g.do(ctx, e.UserID, domain.BatchOp{Debit: e})
	return o.Transaction, o.Replayed, o.Err
}

// Hold creates one hold, alone or together with concurrent debits and holds
// of the same account, with CreateHold's results.
func (g *GroupCommit) Hold(ctx context.Context, h *domain.NewHold) (*domain.Hold, bool, error) {
	o := g.do(ctx, h.UserID, domain.BatchOp{Hold: h})
	return o.Hold, o.Replayed, o.Err
}

// do runs op at once when the account has nothing in flight, else queues it
// for the account's next batch and waits for its outcome.
func (g *GroupCommit) do(ctx context.Context, userID int64, op domain.BatchOp) domain.CreditOutcome {
	g.mu.Lock()
	a, busy := g.accounts[userID]
	if !busy {
		a = &account{}
		g.accounts[userID] = a
		g.mu.Unlock()
		o := g.single(ctx, op)
		g.observe(1)
		g.next(userID, a)
		return o
	}
	op.Ctx = ctx
	q := &queued{ctx: ctx, op: op, done: make(chan domain.CreditOutcome, 1)}
	a.queue = append(a.queue, q)
	g.mu.Unlock()

	select {
	case o := <-q.done:
		return o
	case <-ctx.Done():
	}
	g.mu.Lock()
	if !q.taken {
		for i, other := range a.queue {
			if other == q {
				a.queue = append(a.queue[:i:i], a.queue[i+1:]...)
				break
			}
		}
		g.mu.Unlock()
		return domain.CreditOutcome{Err: ctx.Err()}
	}
	g.mu.Unlock()
	return <-q.done
}

func (g *GroupCommit) observe(ops int) {
	if g.metrics != nil {
		g.metrics.GroupCommit(ops)
	}
}

// single applies one op through the store's ordinary path.
func (g *GroupCommit) single(ctx context.Context, op domain.BatchOp) domain.CreditOutcome {
	var o domain.CreditOutcome
	if op.Debit != nil {
		o.Transaction, o.Replayed, o.Err = g.store.ApplyCredit(ctx, op.Debit)
	} else {
		o.Hold, o.Replayed, o.Err = g.store.CreateHold(ctx, op.Hold)
	}
	return o
}

// next starts the account's next batch, or forgets the account when nothing
// is queued. It is called when a transaction of the account has ended.
func (g *GroupCommit) next(userID int64, a *account) {
	g.mu.Lock()
	if len(a.queue) == 0 {
		delete(g.accounts, userID)
		g.mu.Unlock()
		return
	}
	n := min(len(a.queue), g.maxBatch)
	batch := make([]*queued, n)
	copy(batch, a.queue)
	a.queue = append(a.queue[:0:0], a.queue[n:]...)
	for _, q := range batch {
		q.taken = true
	}
	g.mu.Unlock()
	go g.run(userID, a, batch)
}

// run applies one batch, answers each of its callers, and starts the next.
func (g *GroupCommit) run(userID int64, a *account, batch []*queued) {
	defer g.next(userID, a)
	g.observe(len(batch))
	ctx, cancel := batchContext(batch)
	defer cancel()
	if len(batch) == 1 {
		batch[0].done <- g.single(ctx, batch[0].op)
		return
	}
	// The batch's own context carries no audit events: each op's are
	// written with it (BatchOp.Ctx).
	ctx = domain.WithAudit(ctx)
	ops := make([]domain.BatchOp, len(batch))
	for i, q := range batch {
		ops[i] = q.op
	}
	g.batches.Add(1)
	g.batched.Add(int64(len(ops)))
	outs, err := g.store.ApplyCreditBatch(ctx, userID, ops)
	for i, q := range batch {
		if err != nil {
			q.done <- domain.CreditOutcome{Err: err}
		} else {
			q.done <- outs[i]
		}
	}
}

// batchContext is the context of a batch's transaction: not cancelled when
// one caller goes away (the others still wait for it), carrying the first
// caller's values, and ending at the latest of the callers' deadlines when
// every caller has one.
func batchContext(batch []*queued) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(batch[0].ctx)
	var latest time.Time
	for _, q := range batch {
		d, ok := q.ctx.Deadline()
		if !ok {
			return context.WithCancel(ctx)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(ctx, latest)
}
