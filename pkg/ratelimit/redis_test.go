package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/ratelimit"
	"github.com/redis/go-redis/v9"
)

// redisURL is the test Redis; the test skips when it is unreachable, or
// fails when AUTHSVC_TEST_REQUIRE_REDIS=1.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("AUTHSVC_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("AUTHSVC_TEST_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis at %s: %v", u, err)
		}
		t.Skipf("redis at %s unreachable: %v", u, err)
	}
	return u
}

// randomPrefix returns a key prefix of its own for one test and deletes the
// test's keys at cleanup.
func randomPrefix(t *testing.T, url string) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // never fails
	prefix := "authsvc-test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opts, _ := redis.ParseURL(url)
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		keys, err := c.Keys(ctx, "*"+prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return prefix
}

func TestRedis(t *testing.T) {
	url := redisURL(t)
	limit := ratelimit.PerMinute(100)

	t.Run("two limiters on one redis share one limit", func(t *testing.T) {
		prefix := randomPrefix(t, url)
		a, err := ratelimit.NewRedis(url, ratelimit.RedisOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, _ := ratelimit.NewRedis(url, ratelimit.RedisOptions{Prefix: prefix})
		defer b.Close()
		gotA, _ := allowN(t, a, "auth|192.0.2.7", limit, 50)
		gotB, last := allowN(t, b, "auth|192.0.2.7", limit, 50)
		if gotA+gotB != 100 || last.Remaining != 0 {
			t.Fatalf("allowed %d+%d, last %+v", gotA, gotB, last)
		}
		res, err := a.Allow(context.Background(), "auth|192.0.2.7", limit)
		if err != nil || res.Allowed || res.RetryAfter <= 0 || res.Limit != 100 {
			t.Fatalf("101st: %+v, %v", res, err)
		}
		if got, _ := allowN(t, b, "auth|192.0.2.8", limit, 1); got != 1 {
			t.Fatal("another key was limited")
		}
	})
}

func TestRedisUnreachable(t *testing.T) {
	t.Run("a closed port is ErrUnavailable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		r, err := ratelimit.NewRedis("redis://"+addr, ratelimit.RedisOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.Allow(context.Background(), "k", ratelimit.PerMinute(1)); !errors.Is(err, ratelimit.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})

	t.Run("after a failure redis is not asked until the backoff passes", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var accepted atomic.Int64
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close() // a broken server
			}
		}()
		clock := testkit.NewClock()
		r, _ := ratelimit.NewRedis("redis://"+ln.Addr().String(), ratelimit.RedisOptions{Clock: clock.Now})
		defer r.Close()
		if _, err := r.Allow(context.Background(), "k", ratelimit.PerMinute(1)); !errors.Is(err, ratelimit.ErrUnavailable) {
			t.Fatalf("the probe: err = %v, want ErrUnavailable", err)
		}
		// During the backoff the limit is kept in memory: 1 per minute.
		if res, err := r.Allow(context.Background(), "k", ratelimit.PerMinute(1)); err != nil || !res.Allowed {
			t.Fatalf("first request from memory: %+v %v, want allowed", res, err)
		}
		if res, err := r.Allow(context.Background(), "k", ratelimit.PerMinute(1)); err != nil || res.Allowed {
			t.Fatalf("second request from memory: %+v %v, want refused", res, err)
		}
		if n := accepted.Load(); n != 1 {
			t.Fatalf("%d connections during the backoff, want 1", n)
		}
		clock.Advance(ratelimit.DefaultRedisBackoff)
		r.Allow(context.Background(), "k", ratelimit.PerMinute(1)) //nolint:errcheck // fails again
		if n := accepted.Load(); n != 2 {
			t.Fatalf("%d connections after the backoff, want 2", n)
		}
	})
}

// An unreachable Redis costs at most one request per backoff (the probe, by
// at most Timeout); every other request is answered from memory at once,
// however many arrive concurrently.
func TestRedisDownBound(t *testing.T) {
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	silent := func(t *testing.T) string { // accepts, reads, never answers
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
				go io.Copy(io.Discard, c) //nolint:errcheck // until the test closes it
			}
		}()
		return ln.Addr().String()
	}
	for name, addr := range map[string]func(*testing.T) string{"refused port": refused, "silent server": silent} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const (
				timeout = ratelimit.DefaultRedisTimeout // the documented bound, 250 ms
				backoff = 300 * time.Millisecond
				workers = 8
				span    = 4 * backoff // the requests keep coming for a few backoffs
			)
			r, err := ratelimit.NewRedis("redis://"+addr(t), ratelimit.RedisOptions{Timeout: timeout, Backoff: backoff})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var probes, slow, total atomic.Int64
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := 0; time.Since(start) < span; i++ {
						t0 := time.Now()
						_, err := r.Allow(context.Background(), fmt.Sprintf("k%d-%d", w, i%10), ratelimit.PerMinute(1000))
						d := time.Since(t0)
						total.Add(1)
						if err != nil {
							probes.Add(1)
						} else if d >= timeout {
							slow.Add(1)
						}
						time.Sleep(2 * time.Millisecond) // pacing: a steady stream of requests
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			maxProbes := int64(elapsed/backoff) + 1
			if n := probes.Load(); n < 1 || n > maxProbes {
				t.Errorf("%d requests asked Redis in %s, want 1..%d (one per %s backoff)", n, elapsed, maxProbes, backoff)
			}
			if n := slow.Load(); n != 0 {
				t.Errorf("%d requests served from memory took %s or more", n, timeout)
			}
			t.Logf("%d requests in %s: %d probes, the rest from memory", total.Load(), elapsed.Round(time.Millisecond), probes.Load())
		})
	}
}
