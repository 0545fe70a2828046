package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/proxyaddr"
	"github.com/authsvc/authsvc/pkg/ratelimit"
	"github.com/rs/zerolog"
)

// ClientIPs finds a request's client address (docs/operations.md, Rate limits): the socket's
// peer, unless the peer is a trusted proxy; then the right-most
// X-Forwarded-For entry that is not a trusted proxy. A nil *ClientIPs
// trusts no proxy.
type ClientIPs struct {
	trusted []netip.Prefix
}

// NewClientIPs parses server.trusted_proxies (CIDRs or single addresses;
// see proxyaddr.Parse).
func NewClientIPs(trustedProxies []string) (*ClientIPs, error) {
	trusted, err := proxyaddr.Parse(trustedProxies)
	if err != nil {
		return nil, fmt.Errorf("trusted proxy: %w", err)
	}
	return &ClientIPs{trusted: trusted}, nil
}

func (c *ClientIPs) isTrusted(a netip.Addr) bool {
	if c == nil {
		return false
	}
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client's address; the zero Addr when the peer
// address cannot be parsed.
func (c *ClientIPs) ClientIP(r *http.Request) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if !peer.IsValid() || !c.isTrusted(peer) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a := parseHostAddr(strings.TrimSpace(entries[j]))
			if !a.IsValid() {
				return client // garbage: believe no further than the last proxy
			}
			client = a
			if !c.isTrusted(a) {
				return a
			}
		}
	}
	return client
}

// parseHostAddr parses "ip", "ip:port" or "[ipv6]:port", 4-in-6 unmapped.
func parseHostAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.WithZone("").Unmap()
	}
	return netip.Addr{}
}

// LimitKey is the per-IP rate limits' bucket of a client: an IPv4
// address, or the /64 of an IPv6 address (one host usually holds a whole
// /64, so a client rotating addresses inside it stays in one bucket). The
// pages' and the OpenID Connect provider's limits key on it too.
func LimitKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// RateLimitMetrics counts what the rate limiter does.
type RateLimitMetrics interface {
	// RateLimited counts a request refused with 429; class is "auth" or "default".
	RateLimited(class string)
	// RateLimitUnavailable counts a request served unlimited because the
	// limiter's store (Redis) failed.
	RateLimitUnavailable()
}

// RateLimitConfig configures RateLimit.
type RateLimitConfig struct {
	Limiter ratelimit.Limiter
	Auth    ratelimit.Limit // ClassAuth routes (ratelimit.auth_per_minute)
	Default ratelimit.Limit // ClassDefault routes (ratelimit.default_per_minute)
	// ClientIPs resolves the client address; nil trusts no proxy.
	ClientIPs *ClientIPs
	// Metrics is told about refusals and store failures; nil counts nothing.
	Metrics RateLimitMetrics
	// Logger receives store failures, at most one line per ErrorLogInterval.
	Logger           zerolog.Logger
	ErrorLogInterval time.Duration // default 10s
	Clock            func() time.Time
}

// RateLimit is a RouteMiddleware that limits ClassAuth and ClassDefault
// routes per client IP, each class in its own bucket. Limited routes carry
// RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset; a refused
// request is a 429 with Retry-After. When the limiter's store fails the
// request is served (fail open), counted and logged.
func RateLimit(cfg RateLimitConfig) func(Route, http.Handler) http.Handler {
	if cfg.ErrorLogInterval <= 0 {
		cfg.ErrorLogInterval = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	failures := &throttledLog{log: cfg.Logger, every: cfg.ErrorLogInterval, now: cfg.Clock}
	blocked := &blockList{until: map[string]time.Time{}}
	return func(rt Route, next http.Handler) http.Handler {
		class, limit := "default", cfg.Default
		switch rt.Class {
		case ClassExempt:
			return next
		case ClassVerify:
			return failureLimit(cfg, blocked, failures, next)
		case ClassAuth:
			class, limit = "auth", cfg.Auth
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, err := cfg.Limiter.Allow(r.Context(), class+"|"+LimitKey(cfg.ClientIPs.ClientIP(r)), limit)
			if err != nil {
				if cfg.Metrics != nil {
					cfg.Metrics.RateLimitUnavailable()
				}
				failures.error(err, "rate limiter unavailable; serving requests unlimited")
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Set("RateLimit-Limit", strconv.Itoa(res.Limit))
			h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(res.ResetAfter)))
			if !res.Allowed {
				if cfg.Metrics != nil {
					cfg.Metrics.RateLimited(class)
				}
				renderError(w, r, errorLog(cfg.Logger), domain.ErrRateLimited.WithRetryAfter(max(res.RetryAfter, time.Second)))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// throttledLog writes an error at most once per interval, with the number
// of occurrences it held back.
type throttledLog struct {
	log   zerolog.Logger
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (t *throttledLog) error(err error, msg string) {
	now := t.now()
	t.mu.Lock()
	if !t.last.IsZero() && now.Sub(t.last) < t.every {
		t.suppressed++
		t.mu.Unlock()
		return
	}
	suppressed := t.suppressed
	t.last, t.suppressed = now, 0
	t.mu.Unlock()
	t.log.Error().Err(err).Int("suppressed", suppressed).Msg(msg)
}

// verifyFailedKey is the context key of the flag a handler sets when the
// request failed in the way ClassVerify counts.
type verifyFailedKey struct{}

// markFailed tells ClassVerify's limiter that r failed (a key that is not
// valid); other routes ignore it.
func markFailed(r *http.Request) {
	if f, ok := r.Context().Value(verifyFailedKey{}).(*bool); ok {
		*f = true
	}
}

// blockList holds the client IPs whose failures passed the limit, until
// the limiter allows them again.
type blockList struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (b *blockList) blockedFor(ip string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.until[ip]
	if !ok {
		return 0
	}
	if !now.Before(t) {
		delete(b.until, ip)
		return 0
	}
	return t.Sub(now)
}

func (b *blockList) block(ip string, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.until) >= 100_000 { // bounded: drop everything rather than grow
		b.until = map[string]time.Time{}
	}
	b.until[ip] = until
}

// failureLimit is ClassVerify: only failed requests count, against the
// ClassAuth limit per client IP; an IP past it gets 429 on every request
// until the limit would allow one again.
func failureLimit(cfg RateLimitConfig, blocked *blockList, failures *throttledLog, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := LimitKey(cfg.ClientIPs.ClientIP(r))
		if wait := blocked.blockedFor(ip, cfg.Clock()); wait > 0 {
			if cfg.Metrics != nil {
				cfg.Metrics.RateLimited("verify")
			}
			renderError(w, r, errorLog(cfg.Logger), domain.ErrRateLimited.WithRetryAfter(max(wait, time.Second)))
			return
		}
		failed := new(bool)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), verifyFailedKey{}, failed)))
		if !*failed {
			return
		}
		res, err := cfg.Limiter.Allow(r.Context(), "verifyfail|"+ip, cfg.Auth)
		if err != nil {
			failures.error(err, "rate limiter unavailable; failed verifications not counted")
			return
		}
		if !res.Allowed {
			blocked.block(ip, cfg.Clock().Add(max(res.RetryAfter, time.Second)))
		}
	})
}
