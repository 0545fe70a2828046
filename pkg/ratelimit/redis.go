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
	// Backoff is how long after a failure Redis is not asked at all:
	// Allow fails at once with ErrUnavailable, so an unreachable Redis
	// slows at most one request per Backoff.
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
	downUntil atomic.Int64 // unix nanoseconds; Redis is not asked before it
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
	ropts.MaxRetries = -1 // fail fast: the caller fails open
	client := redis.NewClient(ropts)
	return &Redis{client: client, limiter: redis_rate.NewLimiter(client), prefix: opts.Prefix,
		backoff: opts.Backoff, now: opts.Clock}, nil
}

// Allow counts one request for key in Redis. Errors wrap ErrUnavailable.
func (r *Redis) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if !limit.valid() {
		return Result{}, ErrInvalidLimit
	}
	if r.now().UnixNano() < r.downUntil.Load() {
		return Result{}, fmt.Errorf("%w: backing off after a failure", ErrUnavailable)
	}
	res, err := r.limiter.Allow(ctx, r.prefix+key,
		redis_rate.Limit{Rate: limit.Rate, Burst: limit.Rate, Period: limit.Period})
	if err != nil {
		r.downUntil.Store(r.now().Add(r.backoff).UnixNano())
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
