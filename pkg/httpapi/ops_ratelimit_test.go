package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/metrics/metricstest"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/httpapi"
	"github.com/authsvc/authsvc/pkg/metrics"
	"github.com/authsvc/authsvc/pkg/ratelimit"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// limited is a fake handler behind the RateLimit middleware for one route.
func limited(t *testing.T, cfg opsConfig, class httpapi.RouteClass) (http.Handler, *opsLog, *metrics.Metrics) {
	t.Helper()
	ips, err := httpapi.NewClientIPs(cfg.trustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	logs, m := &opsLog{}, metrics.New()
	mw := httpapi.RateLimit(rateLimitConfig(cfg, ips, m, zerolog.New(logs)))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	return mw(httpapi.Route{Method: "POST", Pattern: "/auth/login", Class: class, Handler: ok}, ok), logs, m
}

func call(h http.Handler, peer string, xff ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/auth/login", nil)
	r.RemoteAddr = peer
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// exhaust makes n calls from peer and returns how many were not 429.
func exhaust(h http.Handler, n int, peer string, xff func(i int) string) int {
	passed := 0
	for i := range n {
		var rec *httptest.ResponseRecorder
		if xff == nil {
			rec = call(h, peer)
		} else {
			rec = call(h, peer, xff(i))
		}
		if rec.Code != http.StatusTooManyRequests {
			passed++
		}
	}
	return passed
}

func TestRateLimit(t *testing.T) {
	const peer = "203.0.113.5:5555"

	t.Run("100 auth requests pass and the 101st is 429 with the headers", func(t *testing.T) {
		h, _, m := limited(t, opsConfig{}, httpapi.ClassAuth)
		first := call(h, peer)
		if first.Code != 200 || first.Header().Get("RateLimit-Limit") != "100" ||
			first.Header().Get("RateLimit-Remaining") != "99" || first.Header().Get("RateLimit-Reset") != "1" {
			t.Fatalf("first: %d %v", first.Code, first.Header())
		}
		if got := exhaust(h, 99, peer, nil); got != 99 {
			t.Fatalf("%d of the next 99 passed", got)
		}
		rec := call(h, peer)
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("101st: %d", rec.Code)
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["detail"] != "Too many requests" ||
			body["code"] != "rate_limited" || len(body) != 2 {
			t.Fatalf("body %s", rec.Body)
		}
		want := map[string]string{"Retry-After": "1", "RateLimit-Limit": "100", "RateLimit-Remaining": "0",
			"RateLimit-Reset": "60", "Content-Type": "application/json; charset=utf-8"}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if got := metricstest.Scrape(t, m.Handler()).Value("authsvc_ratelimit_rejections_total", "class", "auth"); got != 1 {
			t.Errorf("rejections counted %v", got)
		}
	})

	t.Run("a new X-Forwarded-For from an untrusted peer does not reset the limit", func(t *testing.T) {
		h, _, _ := limited(t, opsConfig{}, httpapi.ClassAuth)
		if got := exhaust(h, 150, peer, func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }); got != 100 {
			t.Fatalf("%d of 150 passed, want 100", got)
		}
	})

	t.Run("from a trusted proxy each forwarded client has its own bucket", func(t *testing.T) {
		h, _, _ := limited(t, opsConfig{trustedProxies: []string{"10.0.0.0/8"}}, httpapi.ClassAuth)
		proxy := "10.1.2.3:40000"
		if got := exhaust(h, 150, proxy, func(i int) string { return fmt.Sprintf("198.51.100.%d, 10.9.9.9", i) }); got != 150 {
			t.Fatalf("%d of 150 distinct forwarded clients passed", got)
		}
		spoofed := func(i int) string { return fmt.Sprintf("192.0.2.%d, 198.51.100.200", i) }
		if got := exhaust(h, 150, proxy, spoofed); got != 100 {
			t.Fatalf("%d of 150 passed with a spoofed left part, want 100", got)
		}
	})

	t.Run("the window rolls", func(t *testing.T) {
		clock := testkit.NewClock()
		h, _, _ := limited(t, opsConfig{clock: clock}, httpapi.ClassAuth)
		if got := exhaust(h, 101, peer, nil); got != 100 {
			t.Fatalf("%d passed", got)
		}
		clock.Advance(600 * time.Millisecond)
		if got := exhaust(h, 2, peer, nil); got != 1 {
			t.Fatalf("after 600ms %d passed, want 1", got)
		}
		clock.Advance(time.Minute)
		if got := exhaust(h, 101, peer, nil); got != 100 {
			t.Fatalf("after a minute %d passed, want 100", got)
		}
	})

	t.Run("auth and default routes count in separate buckets", func(t *testing.T) {
		cfg := opsConfig{limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{}), authLimit: 2, defaultLimit: 3}
		auth, _, _ := limited(t, cfg, httpapi.ClassAuth)
		def, _, _ := limited(t, cfg, httpapi.ClassDefault)
		if a, d := exhaust(auth, 5, peer, nil), exhaust(def, 5, peer, nil); a != 2 || d != 3 {
			t.Fatalf("auth %d, default %d passed; want 2 and 3", a, d)
		}
	})

	t.Run("health, readiness and metrics are never limited", func(t *testing.T) {
		o := newOps(t, nil, opsConfig{authLimit: 1, defaultLimit: 1})
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			for range 5 {
				rec := o.do(req{path: path})
				if rec.Code != 200 || rec.Header().Get("RateLimit-Limit") != "" {
					t.Fatalf("%s: %d, RateLimit-Limit %q", path, rec.Code, rec.Header().Get("RateLimit-Limit"))
				}
			}
		}
	})

	t.Run("the route table's classes are applied", func(t *testing.T) {
		db := storetest.Open(t, storetest.SQLiteURL(t))
		o := newOps(t, db, opsConfig{authLimit: 2, defaultLimit: 3})
		login := func(int) req { return req{method: "POST", path: "/auth/login", body: "{}"} }
		me := func(int) req { return req{path: "/auth/me"} }
		if got := o.statuses(3, login); got[429] != 1 {
			t.Fatalf("login statuses %v, want one 429", got)
		}
		if got := o.statuses(4, me); got[429] != 1 || got[401] != 3 {
			t.Fatalf("/auth/me statuses %v, want three 401 and one 429", got)
		}
	})
}

func TestRateLimitClientIP(t *testing.T) {
	ips, err := httpapi.NewClientIPs([]string{"10.0.0.0/8", "192.168.1.1", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"an untrusted peer is the client whatever it forwards", "203.0.113.5:1", []string{"1.1.1.1"}, "203.0.113.5"},
		{"a trusted peer without a header is the client", "10.0.0.1:1", nil, "10.0.0.1"},
		{"the right-most untrusted entry is the client", "10.0.0.1:1", []string{"1.1.1.1, 198.51.100.7, 10.2.2.2"}, "198.51.100.7"},
		{"several headers read as one list", "10.0.0.1:1", []string{"1.1.1.1", "198.51.100.7", "192.168.1.1"}, "198.51.100.7"},
		{"all trusted: the left-most entry", "10.0.0.1:1", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"garbage stops at the last proxy", "10.0.0.1:1", []string{"1.1.1.1, not-an-ip, 10.2.2.2"}, "10.2.2.2"},
		{"an entry with a port", "10.0.0.1:1", []string{"198.51.100.7:8080"}, "198.51.100.7"},
		{"ipv6 behind an ipv6 proxy", "[2001:db8:ffff::1]:1", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"an ipv4-mapped peer is ipv4", "[::ffff:10.0.0.1]:1", []string{"198.51.100.7"}, "198.51.100.7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ips.ClientIP(r); got != netip.MustParseAddr(c.want) {
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
	t.Run("a malformed trusted proxy is an error", func(t *testing.T) {
		if _, err := httpapi.NewClientIPs([]string{"10.0.0.0/33"}); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("ipv6 clients of one /64 share a bucket", func(t *testing.T) {
		h, _, _ := limited(t, opsConfig{authLimit: 3}, httpapi.ClassAuth)
		passed := 0
		for i := range 6 {
			if call(h, fmt.Sprintf("[2001:db8:7:7::%x]:1", i+1)).Code == 200 {
				passed++
			}
		}
		if passed != 3 {
			t.Fatalf("%d passed, want 3", passed)
		}
	})
}

// testRedisURL is the test Redis: skip when unreachable, fail instead when
// AUTHSVC_TEST_REQUIRE_REDIS=1. It returns a key prefix of the test's own,
// whose keys are deleted at cleanup.
func testRedisURL(t *testing.T) (url, prefix string) {
	t.Helper()
	url = os.Getenv("AUTHSVC_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("AUTHSVC_TEST_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis at %s: %v", url, err)
		}
		t.Skipf("redis at %s unreachable: %v", url, err)
	}
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // never fails
	prefix = "authsvc-test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		if keys, err := c.Keys(context.Background(), "*"+prefix+"*").Result(); err == nil && len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
	})
	return url, prefix
}

func TestRateLimitRedis(t *testing.T) {
	t.Run("two server instances share one limit", func(t *testing.T) {
		url, prefix := testRedisURL(t)
		var stacks []http.Handler
		for range 2 {
			l, err := ratelimit.NewRedis(url, ratelimit.RedisOptions{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			h, _, _ := limited(t, opsConfig{limiter: l}, httpapi.ClassAuth)
			stacks = append(stacks, h)
		}
		peer := "203.0.113.77:1"
		if a, b := exhaust(stacks[0], 50, peer, nil), exhaust(stacks[1], 50, peer, nil); a+b != 100 {
			t.Fatalf("%d+%d passed", a, b)
		}
		for i, h := range stacks {
			rec := call(h, peer)
			if rec.Code != 429 || rec.Header().Get("Retry-After") == "" || rec.Header().Get("RateLimit-Remaining") != "0" {
				t.Fatalf("instance %d after 100: %d %v", i, rec.Code, rec.Header())
			}
		}
	})

	t.Run("with redis unreachable one request probes it (served, counted, logged), the rest are limited in memory", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		l, err := ratelimit.NewRedis("redis://"+addr, ratelimit.RedisOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		h, logs, m := limited(t, opsConfig{limiter: l, authLimit: 1}, httpapi.ClassAuth)
		// The probe fails open; then the in-memory limit (1) applies.
		if got := exhaust(h, 20, "203.0.113.9:1", nil); got != 2 {
			t.Fatalf("%d of 20 passed, want 2 (the failed probe and the one the memory limit allows)", got)
		}
		if got := metricstest.Scrape(t, m.Handler()).Value("authsvc_ratelimit_backend_errors_total"); got != 1 {
			t.Errorf("backend errors counted %v, want 1", got)
		}
		lines := logs.lines(t, "rate limiter unavailable; serving requests unlimited")
		if len(lines) != 1 || lines[0]["level"] != "error" {
			t.Errorf("%d error lines, want 1: %s", len(lines), logs)
		}
		if strings.Contains(logs.String(), "203.0.113.9") {
			t.Error("the log names the client")
		}
	})
}
