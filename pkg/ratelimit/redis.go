package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Defaults of RedisOptions.
const (
	DefaultRedisPrefix  = "authsvc:"
	DefaultRedisTimeout = 250 * time.Millisecond
	DefaultRedisBackoff = time.Second
)

// RedisOptions tune a Redis limiter. Zero values take the defaults.
type RedisOptions struct {
	// Prefix is put before every key (redis_rate adds its own "rate:").
	Prefix string
	// Timeout bounds dialling, reading and writing, so that a hung Redis
	// costs a request at most this long.
	Timeout time.Duration
	// Backoff is how long after a failure Redis is not asked at all: the
	// requests are counted by an in-process limiter instead (per replica),
	// and once the backoff is over one request at a time probes Redis while
	// the others stay in memory. An unreachable Redis thus slows at most one
	// request per Backoff, by at most Timeout.
	Backoff time.Duration
	// Clock is the time source of the backoff; nil means time.Now. The
	// limits themselves run on Redis's clock.
	Clock func() time.Time
}

// Redis is a GCRA limiter whose state lives in Redis (via
// github.com/go-redis/redis_rate), so every replica pointed at the same
// Redis shares one limit. Keys expire by themselves once idle. It is safe
// for concurrent use.
type Redis struct {
	client    *redis.Client
	limiter   *redis_rate.Limiter
	prefix    string
	backoff   time.Duration
	now       func() time.Time
	fallback  *Memory      // counts requests while Redis is down or unproven
	down      atomic.Bool  // the last answer from Redis was a failure (or none yet)
	downUntil atomic.Int64 // unix nanoseconds; Redis is not asked before it
	probing   atomic.Bool  // one request is asking Redis whether it is back
}

// NewRedis connects lazily to the Redis at rawURL (redis:// or rediss://).
// It fails only for a malformed URL.
func NewRedis(rawURL string, opts RedisOptions) (*Redis, error) {
	ropts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("ratelimit redis url: %w", err)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultRedisBackoff
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	ropts.DialTimeout, ropts.ReadTimeout, ropts.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	ropts.PoolTimeout = opts.Timeout
	ropts.MaxRetries = -1 // fail fast: no command retries on the request path
	// go-redis dials up to 5 times, 100 ms apart, by default: ~400 ms per
	// request against a refused port. One dial, once.
	ropts.DialerRetries = 1
	client := redis.NewClient(ropts)
	r := &Redis{client: client, limiter: redis_rate.NewLimiter(client), prefix: opts.Prefix,
		backoff: opts.Backoff, now: opts.Clock, fallback: NewMemory(MemoryOptions{Clock: opts.Clock})}
	r.down.Store(true) // unproven: the first request probes, the others wait in memory
	return r, nil
}

// Allow counts one request for key in Redis. While Redis is down (after a
// failure, until the backoff is over, and while one request probes it) the
// request is counted in memory instead. Only a request that asked Redis and
// failed gets an error (wrapping ErrUnavailable); callers fail open for it.
func (r *Redis) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if !limit.valid() {
		return Result{}, ErrInvalidLimit
	}
	if r.down.Load() {
		if r.now().UnixNano() < r.downUntil.Load() || !r.probing.CompareAndSwap(false, true) {
			return r.fallback.Allow(ctx, key, limit)
		}
		defer r.probing.Store(false)
		res, err := r.ask(ctx, key, limit)
		if err != nil {
			return Result{}, err
		}
		r.down.Store(false)
		return res, nil
	}
	return r.ask(ctx, key, limit)
}

// ask counts one request in Redis; a failure starts the backoff.
func (r *Redis) ask(ctx context.Context, key string, limit Limit) (Result, error) {
	res, err := r.limiter.Allow(ctx, r.prefix+key,
		redis_rate.Limit{Rate: limit.Rate, Burst: limit.Rate, Period: limit.Period})
	if err != nil {
		r.downUntil.Store(r.now().Add(r.backoff).UnixNano())
		r.down.Store(true)
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out := Result{Allowed: res.Allowed > 0, Limit: limit.Rate, Remaining: res.Remaining,
		ResetAfter: max(res.ResetAfter, 0)}
	if !out.Allowed {
		out.RetryAfter = max(res.RetryAfter, 0)
	}
	return out, nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close releases the connections.
func (r *Redis) Close() error { return r.client.Close() }
