// Package ratelimit counts requests per key against a rate with a burst
// (docs/operations.md, Rate limits) using GCRA, the generic cell rate algorithm: each key keeps
// one timestamp, its theoretical arrival time. Two limiters implement it: an
// in-memory one with bounded memory (the default) and one over Redis, so
// that several replicas share one limit.
package ratelimit

import (
	"context"
	"errors"
	"time"
)

// Limit is a rate: Rate requests per Period, with a burst of Rate (a full
// bucket refills over one Period).
type Limit struct {
	Rate   int
	Period time.Duration
}

// PerMinute is n requests per minute with a burst of n.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute} }

// interval is the time one request "costs" (Period / Rate).
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Rate) }

// valid reports whether l can be enforced.
func (l Limit) valid() bool { return l.Rate > 0 && l.Period > 0 }

// Result is the outcome of one Allow call.
type Result struct {
	Allowed   bool
	Limit     int // the burst: requests allowed at once from a fresh state
	Remaining int // requests that could still be made right now
	// RetryAfter is how long until the next request would be allowed; 0
	// when this one was.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to its fresh state
	// (Remaining == Limit).
	ResetAfter time.Duration
}

// Limiter decides whether a request under key may proceed.
type Limiter interface {
	// Allow counts one request for key against limit. It returns an error
	// (wrapping ErrUnavailable) only when the backing store cannot answer;
	// callers then decide whether to fail open.
	Allow(ctx context.Context, key string, limit Limit) (Result, error)
}

// ErrUnavailable is wrapped by the errors of a limiter whose backing store
// is unreachable.
var ErrUnavailable = errors.New("rate limit store unavailable")

// ErrInvalidLimit is returned for a Limit with a non-positive rate or period.
var ErrInvalidLimit = errors.New("invalid rate limit")

// gcra applies one request at now to a key whose theoretical arrival time
// is tat (zero for a new key). It returns the result and the new tat (the
// unchanged tat when the request is refused).
func gcra(now, tat time.Time, limit Limit) (Result, time.Time) {
	interval := limit.interval()
	if tat.Before(now) {
		tat = now
	}
	newTAT := tat.Add(interval)
	allowAt := newTAT.Add(-limit.Period)
	if now.Before(allowAt) {
		return Result{Limit: limit.Rate, RetryAfter: allowAt.Sub(now), ResetAfter: tat.Sub(now)}, tat
	}
	remaining := int(now.Sub(allowAt) / interval)
	return Result{Allowed: true, Limit: limit.Rate, Remaining: remaining, ResetAfter: newTAT.Sub(now)}, newTAT
}
