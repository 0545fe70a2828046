package httpapi_test

import (
	"bytes"
	"encoding/json"
	"github.com/authsvc/authsvc/internal/testkit"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/httpapi"
	"github.com/authsvc/authsvc/pkg/metrics"
	"github.com/authsvc/authsvc/pkg/password"
	"github.com/authsvc/authsvc/pkg/ratelimit"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/authsvc/authsvc/pkg/token"
	"github.com/rs/zerolog"
)

// The operations tests: rate limits, CORS, access logs, Logstash and
// metrics, wired the way cmd/wire.go wires them.

// opsLog is a goroutine-safe log sink.
type opsLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *opsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *opsLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the JSON log lines whose message is msg.
func (l *opsLog) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if s == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", s)
		}
		if m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// opsConfig says what newOps wires; zero limiter means in-memory on clock.
type opsConfig struct {
	limiter        ratelimit.Limiter
	clock          *testkit.Clock
	authLimit      int // default 100
	defaultLimit   int // default 1000
	trustedProxies []string
	corsOrigins    []string
	noRateLimit    bool
	noMetrics      bool
	logger         *zerolog.Logger
}

// ops is one wired API and what the tests look at.
type ops struct {
	h       http.Handler
	log     *opsLog
	metrics *metrics.Metrics
	auth    *account.Service
}

// newOps wires the operational middleware around the API. With db nil the
// services are absent (only health, readiness and metrics routes work).
func newOps(t *testing.T, db *storetest.DB, cfg opsConfig) *ops {
	t.Helper()
	o := &ops{log: &opsLog{}, metrics: metrics.New()}
	logger := zerolog.New(o.log)
	if cfg.logger != nil {
		logger = *cfg.logger
	}
	ips, err := httpapi.NewClientIPs(cfg.trustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	deps := httpapi.Deps{Logger: logger, Metrics: o.metrics.Handler()}
	if cfg.noMetrics {
		deps.Metrics = nil
	}
	if db != nil {
		o.auth = realAuth(t, db, o.metrics, logger)
		deps.Auth, deps.Authenticator = o.auth, o.auth
		deps.Credits = credits.New(db, credits.Options{Metrics: o.metrics.Credits(), Logger: logger})
	}
	opts := httpapi.Options{Middleware: []func(http.Handler) http.Handler{
		httpapi.AccessLog(logger, ips), httpapi.ObserveRequests(o.metrics), httpapi.CORS(cfg.corsOrigins)}}
	if !cfg.noRateLimit {
		opts.RouteMiddleware = append(opts.RouteMiddleware, httpapi.RateLimit(rateLimitConfig(cfg, ips, o.metrics, logger)))
	}
	o.h = httpapi.New(deps, opts).Handler()
	return o
}

func rateLimitConfig(cfg opsConfig, ips *httpapi.ClientIPs, m *metrics.Metrics, log zerolog.Logger) httpapi.RateLimitConfig {
	if cfg.clock == nil {
		cfg.clock = testkit.NewClock()
	}
	if cfg.limiter == nil {
		cfg.limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: cfg.clock.Now})
	}
	if cfg.authLimit == 0 {
		cfg.authLimit = 100
	}
	if cfg.defaultLimit == 0 {
		cfg.defaultLimit = 1000
	}
	return httpapi.RateLimitConfig{Limiter: cfg.limiter, Auth: ratelimit.PerMinute(cfg.authLimit),
		Default: ratelimit.PerMinute(cfg.defaultLimit), ClientIPs: ips, Metrics: m, Logger: log, Clock: cfg.clock.Now}
}

func realAuth(t *testing.T, db *storetest.DB, m *metrics.Metrics, log zerolog.Logger) *account.Service {
	t.Helper()
	issuer, err := token.New(token.Config{Secret: []byte("ops-tests-secret-0123456789abcdefgh"), Issuer: "authsvc",
		Audience: "authsvc", AccessTTL: time.Hour, ResetTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.New(password.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	opts := testkit.AccountOptions()
	opts.Logger, opts.Metrics = log, m.Auth()
	svc, err := account.New(account.Deps{Store: db, Hasher: hasher, Policy: hasher, Tokens: issuer}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// req describes one request to ops.do.
type req struct {
	method, path, body, ctype string
	peer                      string // RemoteAddr; default 192.0.2.10:4321
	header                    http.Header
}

// do serves r and returns the recorded response.
func (o *ops) do(r req) *httptest.ResponseRecorder {
	if r.method == "" {
		r.method = "GET"
	}
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	hr.RemoteAddr = "192.0.2.10:4321"
	if r.peer != "" {
		hr.RemoteAddr = r.peer
	}
	if r.body != "" {
		ct := r.ctype
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	for k, v := range r.header {
		hr.Header[k] = v
	}
	rec := httptest.NewRecorder()
	o.h.ServeHTTP(rec, hr)
	return rec
}

// statuses serves n copies of r (mk builds the i-th) and counts statuses.
func (o *ops) statuses(n int, mk func(i int) req) map[int]int {
	got := map[int]int{}
	for i := range n {
		got[o.do(mk(i)).Code]++
	}
	return got
}
