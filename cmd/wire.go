package cmd

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/httpapi"
	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/metrics"
	"github.com/authsvc/authsvc/pkg/oidcprovider"
	"github.com/authsvc/authsvc/pkg/password"
	"github.com/authsvc/authsvc/pkg/ratelimit"
	"github.com/authsvc/authsvc/pkg/signingkeys"

	"github.com/authsvc/authsvc/pkg/pages"
	"github.com/authsvc/authsvc/templates"
)

const (
	// janitorInterval is how often expired revocations and reset tokens are purged.
	janitorInterval = 10 * time.Minute
	// holdExpiryInterval is how often due credit holds are resolved as
	// expired (every replica sweeps; SKIP LOCKED splits the work). A capture
	// or void of a due hold does not wait for it: it sees the expiry itself.
	holdExpiryInterval = 5 * time.Second
)

// server is everything serve runs: the HTTP handler and the background jobs
// (each runs until its context is cancelled), the services beneath them, and
// what to release at the end.
type server struct {
	handler http.Handler
	// metrics serves GET /metrics on server.metrics_addr; nil when that is
	// not set (then the public listener serves the public view).
	metrics http.Handler
	jobs    []func(ctx context.Context)
	close   func()
	svc     *services
}

// buildServer wires the services into the HTTP API and the background jobs.
// Everything that can be checked at startup (templates, mail settings) is
// checked here, so a bad setting stops serve instead of failing later.
func (a *app) buildServer(ctx context.Context) (*server, error) {
	m := metrics.New()
	m.RegisterDB(a.db)
	m.RegisterOutbox(a.db.OutboxStats)
	if a.ship != nil {
		m.RegisterLogShipper(a.ship)
	}
	svc, err := a.buildServices(a.db, m.Auth(), credits.Options{Metrics: m.Credits()})
	if err != nil {
		return nil, err
	}
	if err := a.buildWebServices(svc); err != nil {
		return nil, err
	}
	// The signing keys are read once here (a bad key-encryption key stops
	// serve) and then re-read by a background job, so that every replica
	// picks up a rotation by itself; requests never query them.
	// A database that is not migrated yet (auto_migrate off, the init
	// container still running) or not reachable is not fatal: the replica
	// stays unready until the keys load.
	a.matchDummyCost(ctx, svc.hasher)
	svc.keys.SetMetrics(m.Keys())
	if err := svc.keys.Load(ctx); signingkeys.IsConfigError(err) {
		return nil, err
	} else if err != nil {
		a.log.Warn().Err(err).Msg("signing keys not loaded yet; not ready until they are")
	}
	worker, err := a.mailWorker(m.Mail())
	if err != nil {
		return nil, err
	}
	ips, err := httpapi.NewClientIPs(a.cfg.Server.TrustedProxies)
	if err != nil {
		return nil, err
	}
	opts := httpapi.Options{ClientIPs: ips, Middleware: []func(http.Handler) http.Handler{
		httpapi.AccessLog(a.log, ips), // outermost: also logs CORS preflights
		httpapi.ObserveRequests(m),
		httpapi.CORS(a.cfg.Server.CORSAllowedOrigins), // outside the mux: answers OPTIONS
	}, LogSuppressed: m.LogSuppressed}
	limiter, closeLimiter, err := a.limiter(ctx)
	if err != nil {
		return nil, err
	}
	if limit := a.rateLimit(limiter, ips, m); limit != nil {
		opts.RouteMiddleware = append(opts.RouteMiddleware, limit)
	}
	svc.apiKeys.SetLimiter(keyLimiter{limiter}) // a key's own rate_limit_per_minute, on or off with ratelimit.enabled
	// /metrics on the public listener must not tell whether an account
	// exists: either it moves to its own listener, or the public view leaves
	// out the series that could (see metrics.PublicHandler).
	var publicMetrics, privateMetrics http.Handler = m.PublicHandler(), nil
	if a.cfg.Server.MetricsAddr != "" {
		publicMetrics, privateMetrics = nil, metricsOnly(m.Handler())
	}
	deps := httpapi.Deps{
		Auth:            svc.auth,
		Credits:         svc.credits,
		Holds:           svc.holds,
		Authenticator:   svc.auth,
		MFA:             svc.auth,
		APIKeys:         svc.apiKeys,
		Verifier:        svc.apiKeys,
		VerifierSecrets: a.cfg.APIKeys.VerifierSecrets,
		Ready:           a.readyWithKeys(svc.keys, svc.oidc),
		Logger:          a.log,
		Metrics:         publicMetrics,
		Keys:            svc.tokens,
		JWKSMaxAge:      a.cfg.Auth.JWKSMaxAge,
	}
	if svc.oidc != nil {
		deps.ServiceTokens = svc.oidc
	}
	if svc.passkeys != nil {
		deps.Passkeys = svc.passkeys
	}
	if svc.federation != nil {
		deps.Federation = svc.federation
	}
	api := httpapi.New(deps, opts)
	observed := func(route string, h http.Handler) http.Handler { // the API's access log and metrics, for the pages and the provider
		return httpapi.Tagged(route, ips)(httpapi.AccessLog(a.log, ips)(httpapi.ObserveRequests(m)(h)))
	}
	handler, err := a.withPages(api.Handler(), svc, limiter, ips, observed)
	if err != nil {
		return nil, err
	}
	jobs := []func(context.Context){
		func(ctx context.Context) { svc.auth.RunJanitor(ctx, janitorInterval) },
		func(ctx context.Context) { worker.Run(ctx) }, //nolint:errcheck // Run returns nil on cancel
		func(ctx context.Context) { svc.keys.Run(ctx) },
		func(ctx context.Context) { svc.holds.RunExpiry(ctx, holdExpiryInterval) },
	}
	if svc.oidc != nil {
		jobs = append(jobs, func(ctx context.Context) { svc.oidc.RunJanitor(ctx, janitorInterval) })
	}
	if a.cfg.Mail.Driver == mail.DriverSMTP {
		jobs = append(jobs, a.probeMail) // once, in the background: startup never waits on SMTP
	}
	return &server{
		svc:     svc,
		handler: handler,
		metrics: privateMetrics,
		jobs:    jobs,
		close: func() {
			svc.auth.Wait() // reset requests answered before shutdown still get their row
			closeLimiter()
		},
	}, nil
}

// metricsOnly serves h at GET /metrics and 404 elsewhere: the private
// metrics listener.
// matchDummyCost makes the unknown-user compare as slow as the slowest
// stored hash (imported ones may be costlier than auth.bcrypt_cost until
// their first login rehashes them), so that timing does not tell whether an
// account exists. A database not reachable yet leaves the configured cost.
func (a *app) matchDummyCost(ctx context.Context, h *password.Hasher) {
	cost, err := a.db.HighestPasswordCost(ctx)
	if err != nil {
		a.log.Warn().Err(err).Msg("highest stored bcrypt cost not read; the unknown-user compare keeps auth.bcrypt_cost")
		return
	}
	if err := h.MatchDummyCost(min(cost, domain.MaxBcryptCost)); err != nil {
		a.log.Warn().Err(err).Msg("unknown-user compare not raised to the stored cost")
		return
	}
	if cost > a.cfg.Auth.BcryptCost {
		a.log.Info().Int("cost", h.DummyCost()).Msg("unknown-user password compare raised to the highest stored bcrypt cost")
	}
}

func metricsOnly(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return mux
}

// mailWorker builds the outbox worker with its renderer and driver.
func (a *app) mailWorker(mm mail.Metrics) (*mail.Worker, error) {
	m := a.cfg.Mail
	renderer, err := mail.NewRenderer(m.TemplatesDir, "")
	if err != nil {
		return nil, err
	}
	sender, err := mail.NewSender(a.mailConfig(), a.log)
	if err != nil {
		return nil, err
	}
	return mail.NewWorker(a.db, sender, renderer, mail.WorkerOptions{
		Retry:   mail.RetryPolicy{MaxAttempts: m.MaxAttempts, Base: m.RetryBase, Max: m.RetryMax},
		Logger:  a.log,
		Metrics: mm,
	}), nil
}

// mailConfig is the mail package's view of mail.*.
func (a *app) mailConfig() mail.Config {
	m := a.cfg.Mail
	return mail.Config{
		Driver: m.Driver, Host: m.Host, Port: m.Port, Username: m.Username, Password: m.Password,
		From: m.From, SSLTLS: m.SSLTLS, StartTLS: m.StartTLS, Production: a.cfg.IsProduction(),
	}
}

// probeMail checks the SMTP server once and logs one line: what works, or
// what failed and what to change.
func (a *app) probeMail(ctx context.Context) {
	line, err := mail.Probe(ctx, a.mailConfig())
	switch {
	case ctx.Err() != nil: // shutting down before the check finished
	case err != nil:
		a.log.Error().Msg(err.Error())
	default:
		a.log.Info().Msg(line)
	}
}

// limiter is the rate limiter of this replica (in memory, or shared
// through ratelimit.redis_url) and the function that releases its backend.
func (a *app) limiter(ctx context.Context) (ratelimit.Limiter, func(), error) {
	rl := a.cfg.RateLimit
	if rl.RedisURL == "" {
		return ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: a.clock}), func() {}, nil
	}
	r, err := ratelimit.NewRedis(rl.RedisURL, ratelimit.RedisOptions{})
	if err != nil {
		return nil, nil, err
	}
	if err := r.Ping(ctx); err != nil { // not fatal: requests fail open
		a.log.Error().Err(err).Msg("rate-limit redis unreachable at startup; serving unlimited until it answers")
	}
	return r, func() { r.Close() }, nil
}

// keyLimiter adapts a ratelimit.Limiter to the API keys' per-key limit.
type keyLimiter struct{ l ratelimit.Limiter }

// Allow counts one request of an API key; a limiter that cannot answer lets
// it through (fail open, like the per-IP limits).
func (k keyLimiter) Allow(ctx context.Context, key string, perMinute int) (bool, int, time.Duration, error) {
	r, err := k.l.Allow(ctx, key, ratelimit.PerMinute(perMinute))
	if err != nil {
		return true, 0, 0, err
	}
	return r.Allowed, r.Remaining, r.ResetAfter, nil
}

// rateLimit builds the per-IP rate-limit middleware over limiter; nil when
// ratelimit.enabled is off.
func (a *app) rateLimit(limiter ratelimit.Limiter, ips *httpapi.ClientIPs, m *metrics.Metrics) func(httpapi.Route, http.Handler) http.Handler {
	rl := a.cfg.RateLimit
	if !rl.Enabled {
		return nil
	}
	return httpapi.RateLimit(httpapi.RateLimitConfig{
		Limiter:   limiter,
		Auth:      ratelimit.PerMinute(rl.AuthPerMinute),
		Default:   ratelimit.PerMinute(rl.DefaultPerMinute),
		ClientIPs: ips,
		Metrics:   m,
		Logger:    a.log,
		Clock:     a.clock,
	})
}

// providerLimit limits authorization requests per client IP, in a bucket
// of their own, at ratelimit.auth_per_minute like the API's sign-in
// routes: each one writes a row. Over the limit: 429 with Retry-After and
// an OAuth error body. The back-channel endpoints (token, userinfo,
// introspect, revoke) are not limited per IP: one busy app calls them from
// one address for all its users, and a client secret (32 random bytes)
// cannot be guessed. Off with ratelimit.enabled; a limiter that cannot
// answer lets the request through, as the API's limits do.
func (a *app) providerLimit(limiter ratelimit.Limiter, ips *httpapi.ClientIPs) func(http.Handler) http.Handler {
	rl := a.cfg.RateLimit
	if !rl.Enabled {
		return func(h http.Handler) http.Handler { return h }
	}
	limit := ratelimit.PerMinute(rl.AuthPerMinute)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, err := limiter.Allow(r.Context(), "oidc|"+httpapi.LimitKey(ips.ClientIP(r)), limit)
			if err == nil && !res.Allowed {
				w.Header().Set("Retry-After", strconv.Itoa(max(int(res.RetryAfter.Round(time.Second)/time.Second), 1)))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"too many requests from this address"}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// withPages mounts the hosted sign-in pages (pkg/pages) and, with
// oidc.enabled, the OpenID Connect provider next to the JSON API: their
// paths go to them, every other one to api. Sign-in posts share the per-IP
// auth limit's rate (ratelimit.auth_per_minute) in a bucket of their own.
// Without the provider the pages sign people in to authsvc itself only.
func (a *app) withPages(api http.Handler, svc *services, limiter ratelimit.Limiter, ips *httpapi.ClientIPs,
	observed func(route string, h http.Handler) http.Handler) (http.Handler, error) {
	deps := pages.Deps{Auth: svc.auth, Templates: templates.Pages(), Logger: a.log, Clock: a.clock,
		ClientIP:        func(r *http.Request) string { return ips.ClientIP(r).String() },
		SessionLifetime: a.cfg.OIDC.SessionLifetime, AllowSignUp: a.cfg.OIDC.AllowSignUp}
	if svc.passkeys != nil {
		deps.Passkeys = svc.passkeys
	}
	if svc.federation != nil {
		deps.Federation = svc.federation
	}
	provider := svc.oidc
	if provider != nil {
		deps.OIDC = provider
	}
	if rl := a.cfg.RateLimit; rl.Enabled {
		limit := ratelimit.PerMinute(rl.AuthPerMinute)
		deps.Limit = func(ctx context.Context, ip string) (bool, time.Duration) {
			a, _ := netip.ParseAddr(ip) // the pages' ClientIP, written by ips.ClientIP
			res, err := limiter.Allow(ctx, "pages|"+httpapi.LimitKey(a), limit)
			if err != nil { // fail open, like the API's per-IP limits
				return true, 0
			}
			return res.Allowed, res.RetryAfter
		}
	}
	p, err := pages.New(deps)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, path := range pages.Paths {
		mux.Handle(path, observed(path, p))
	}
	if provider != nil {
		provider.SetBrowser(p)
		for _, path := range oidcprovider.Paths {
			h := provider.Handler()
			if path == oidcprovider.PathAuthorize { // browsers; each request writes a row
				h = a.providerLimit(limiter, ips)(h)
			}
			mux.Handle(path, observed(path, h))
		}
	}
	mux.Handle("/", api)
	return mux, nil
}
