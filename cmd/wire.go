package cmd

import (
	"context"
	"net/http"
	"time"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/httpapi"
	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/metrics"
	"github.com/authsvc/authsvc/pkg/ratelimit"
)

const (
	// janitorInterval is how often expired revocations and reset tokens are purged.
	janitorInterval = 10 * time.Minute
)

// server is everything serve runs: the HTTP handler and the background jobs
// (each runs until its context is cancelled), the services beneath them, and
// what to release at the end.
type server struct {
	handler http.Handler
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
	worker, err := a.mailWorker(m.Mail())
	if err != nil {
		return nil, err
	}
	ips, err := httpapi.NewClientIPs(a.cfg.Server.TrustedProxies)
	if err != nil {
		return nil, err
	}
	opts := httpapi.Options{Middleware: []func(http.Handler) http.Handler{
		httpapi.AccessLog(a.log, ips), // outermost: also logs CORS preflights
		httpapi.ObserveRequests(m),
		httpapi.CORS(a.cfg.Server.CORSAllowedOrigins), // outside the mux: answers OPTIONS
	}}
	limit, closeLimiter, err := a.rateLimit(ctx, ips, m)
	if err != nil {
		return nil, err
	}
	if limit != nil {
		opts.RouteMiddleware = append(opts.RouteMiddleware, limit)
	}
	api := httpapi.New(httpapi.Deps{
		Auth:          svc.auth,
		Credits:       svc.credits,
		Authenticator: svc.auth,
		Ready:         a.ready,
		Logger:        a.log,
		Metrics:       m.Handler(),
	}, opts)
	jobs := []func(context.Context){
		func(ctx context.Context) { svc.auth.RunJanitor(ctx, janitorInterval) },
		func(ctx context.Context) { worker.Run(ctx) }, //nolint:errcheck // Run returns nil on cancel
	}
	if a.cfg.Mail.Driver == mail.DriverSMTP {
		jobs = append(jobs, a.probeMail) // once, in the background: startup never waits on SMTP
	}
	return &server{
		svc:     svc,
		handler: api.Handler(),
		jobs:    jobs,
		close: func() {
			svc.auth.Wait() // reset requests answered before shutdown still get their row
			closeLimiter()
		},
	}, nil
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
		From: m.From, SSLTLS: m.SSLTLS, StartTLS: m.StartTLS,
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

// rateLimit builds the per-IP rate-limit middleware (nil when disabled) and
// the function that releases its backend.
func (a *app) rateLimit(ctx context.Context, ips *httpapi.ClientIPs, m *metrics.Metrics) (func(httpapi.Route, http.Handler) http.Handler, func(), error) {
	rl := a.cfg.RateLimit
	if !rl.Enabled {
		return nil, func() {}, nil
	}
	var limiter ratelimit.Limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: a.clock})
	closeLimiter := func() {}
	if rl.RedisURL != "" {
		r, err := ratelimit.NewRedis(rl.RedisURL, ratelimit.RedisOptions{})
		if err != nil {
			return nil, nil, err
		}
		if err := r.Ping(ctx); err != nil { // not fatal: requests fail open
			a.log.Error().Err(err).Msg("rate-limit redis unreachable at startup; serving unlimited until it answers")
		}
		limiter, closeLimiter = r, func() { r.Close() }
	}
	return httpapi.RateLimit(httpapi.RateLimitConfig{
		Limiter:   limiter,
		Auth:      ratelimit.PerMinute(rl.AuthPerMinute),
		Default:   ratelimit.PerMinute(rl.DefaultPerMinute),
		ClientIPs: ips,
		Metrics:   m,
		Logger:    a.log,
		Clock:     a.clock,
	}), closeLimiter, nil
}
