package ratelimit_test

import (
	"context"
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/ratelimit"
)

// allowN makes n requests under key and returns how many were allowed and
// the last result.
func allowN(t *testing.T, l ratelimit.Limiter, key string, limit ratelimit.Limit, n int) (int, ratelimit.Result) {
	t.Helper()
	allowed := 0
	var last ratelimit.Result
	for range n {
		res, err := l.Allow(context.Background(), key, limit)
		if err != nil {
			t.Fatalf("allow: %v", err)
		}
		if res.Allowed {
			allowed++
		}
		last = res
	}
	return allowed, last
}

func TestMemory(t *testing.T) {
	limit := ratelimit.PerMinute(100)

	t.Run("a burst of the rate passes and the next is refused", func(t *testing.T) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: testkit.NewClock().Now})
		res, _ := m.Allow(context.Background(), "k", limit)
		if !res.Allowed || res.Limit != 100 || res.Remaining != 99 || res.ResetAfter != 600*time.Millisecond {
			t.Fatalf("first request: %+v", res)
		}
		got, last := allowN(t, m, "k", limit, 99)
		if got != 99 || last.Remaining != 0 || last.ResetAfter != time.Minute {
			t.Fatalf("allowed %d more, last %+v", got, last)
		}
		res, _ = m.Allow(context.Background(), "k", limit)
		if res.Allowed || res.Remaining != 0 || res.RetryAfter != 600*time.Millisecond || res.ResetAfter != time.Minute {
			t.Fatalf("101st request: %+v", res)
		}
	})

	t.Run("the window rolls with the clock", func(t *testing.T) {
		clock := testkit.NewClock()
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: clock.Now})
		if got, _ := allowN(t, m, "k", limit, 101); got != 100 {
			t.Fatalf("allowed %d, want 100", got)
		}
		clock.Advance(599 * time.Millisecond)
		if got, _ := allowN(t, m, "k", limit, 1); got != 0 {
			t.Fatal("allowed before a request's worth of time passed")
		}
		clock.Advance(time.Millisecond)
		if got, _ := allowN(t, m, "k", limit, 2); got != 1 {
			t.Fatalf("after 600ms allowed %d, want 1", got)
		}
		clock.Advance(time.Minute)
		if got, _ := allowN(t, m, "k", limit, 101); got != 100 {
			t.Fatalf("after a minute allowed %d, want 100", got)
		}
	})

	t.Run("keys are independent", func(t *testing.T) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: testkit.NewClock().Now})
		allowN(t, m, "auth|192.0.2.1", limit, 100)
		if got, _ := allowN(t, m, "default|192.0.2.1", limit, 1); got != 1 {
			t.Fatal("another key was limited")
		}
		if got, _ := allowN(t, m, "auth|192.0.2.1", limit, 1); got != 0 {
			t.Fatal("the exhausted key was not limited")
		}
	})

	t.Run("an invalid limit is an error", func(t *testing.T) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{})
		if _, err := m.Allow(context.Background(), "k", ratelimit.Limit{}); err == nil {
			t.Fatal("no error for a zero limit")
		}
	})
}

func TestMemoryIsBounded(t *testing.T) {
	limit := ratelimit.PerMinute(1000)

	t.Run("100,000 distinct clients stay under the cap", func(t *testing.T) {
		clock := testkit.NewClock()
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: clock.Now})
		for i := range 100_000 {
			key := fmt.Sprintf("default|10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
			if res, _ := m.Allow(context.Background(), key, limit); !res.Allowed {
				t.Fatalf("a new client was refused: %s", key)
			}
			if i%1000 == 0 {
				clock.Advance(time.Millisecond)
			}
		}
		if n := m.Len(); n > ratelimit.DefaultMaxEntries || n == 0 {
			t.Fatalf("%d entries held, cap %d", n, ratelimit.DefaultMaxEntries)
		}
	})

	t.Run("at the cap the least recently used key goes, a busy one stays", func(t *testing.T) {
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{MaxEntries: 100, Clock: testkit.NewClock().Now})
		allowN(t, m, "busy", ratelimit.PerMinute(5), 5)
		for i := range 1000 {
			allowN(t, m, fmt.Sprintf("flood-%d", i), limit, 1)
			if i%50 == 0 {
				allowN(t, m, "busy", ratelimit.PerMinute(5), 1) // refused, but keeps it recent
			}
		}
		if n := m.Len(); n != 100 {
			t.Fatalf("%d entries held, want the cap of 100", n)
		}
		if got, _ := allowN(t, m, "busy", ratelimit.PerMinute(5), 1); got != 0 {
			t.Fatal("the busy client's state was evicted by the flood")
		}
	})

	t.Run("idle keys are swept out", func(t *testing.T) {
		clock := testkit.NewClock()
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: clock.Now})
		for i := range 1000 {
			allowN(t, m, fmt.Sprintf("k%d", i), limit, 1)
		}
		clock.Advance(2 * ratelimit.DefaultSweepInterval)
		allowN(t, m, "fresh", limit, 1)
		if n := m.Len(); n != 1 {
			t.Fatalf("%d entries after every other key went idle, want 1", n)
		}
	})
}
