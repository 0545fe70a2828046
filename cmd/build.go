package cmd

import (
	"context"
	"database/sql/driver"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/oidcclients"
	"github.com/authsvc/authsvc/pkg/oidcprovider"
	"github.com/authsvc/authsvc/pkg/signingkeys"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/token"
	"github.com/rs/zerolog"
)

// buildStack is the one builder of what serve runs: it opens the database
// (waiting up to wait), applies pending migrations when
// database.auto_migrate is on, and wires the services, the HTTP handler with
// its middleware, rate limits and metrics, and the background jobs. serve
// and Build (the end-to-end tests) both go through it.
func (a *app) buildStack(ctx context.Context, wait time.Duration) (*server, error) {
	db, err := a.openOrCreateDB(ctx, wait)
	if err != nil {
		return nil, err
	}
	if a.cfg.Database.AutoMigrate {
		n, err := db.MigrateUp(ctx)
		if err != nil {
			return nil, err
		}
		a.log.Info().Int("applied", n).Msg("migrations up to date")
	}
	return a.buildServer(ctx)
}

// BuildOptions inject into Build what serve takes from the process. Zero
// values are serve's choices.
type BuildOptions struct {
	// Logger replaces the logger serve builds from log.* (tests capture it).
	Logger *zerolog.Logger
	// Clock replaces time.Now as the one clock of the process.
	Clock domain.Clock
	// Wait bounds the wait for the database; default 10s.
	Wait time.Duration
	// WrapHasher wraps the bcrypt hasher the use cases compare with (tests
	// count the bcrypt work of a request).
	WrapHasher func(domain.PasswordHasher) domain.PasswordHasher
	// AuthOptions adjusts the account use cases' options that have no
	// configuration key (failed-login limit and window, reset-email
	// interval), after the configuration's are set.
	AuthOptions func(*account.Options)
	// WrapDriver wraps the database driver (tests count the statements a
	// request sends).
	WrapDriver func(driver.Driver) driver.Driver
}

// Stack is a built authsvc: exactly what `authsvc serve` runs, minus the
// listener. The end-to-end tests serve Handler with httptest.
type Stack struct {
	Handler http.Handler
	Auth    *account.Service
	Credits *credits.Service
	Tokens  *token.Issuer
	DB      *store.DB
	Keys    *signingkeys.Service
	Clients *oidcclients.Service
	OIDC    *oidcprovider.Provider // nil unless oidc.enabled

	srv       *server
	app       *app
	closeOnce sync.Once
}

// Build builds what serve runs from cfg (which it does not validate: tests
// may use settings below the production minimums, e.g. bcrypt cost 4).
// Close releases it. The background jobs (outbox worker, janitor) run only
// after StartJobs.
func Build(ctx context.Context, cfg *config.Config, opts BuildOptions) (*Stack, error) {
	if cfg == nil {
		return nil, errors.New("cmd.Build: a configuration is required")
	}
	a := newApp(Streams{})
	a.cfg, a.build = cfg, opts
	if opts.Logger != nil {
		a.log = *opts.Logger
	} else {
		a.log, a.ship = newLogger(cfg, nopWriter{}, true)
	}
	if opts.Clock != nil {
		a.clock = opts.Clock
	}
	wait := opts.Wait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	srv, err := a.buildStack(ctx, wait)
	if err != nil {
		a.Close()
		return nil, err
	}
	return &Stack{Handler: srv.handler, Auth: srv.svc.auth, Credits: srv.svc.credits, Tokens: srv.svc.tokens,
		Keys: srv.svc.keys, Clients: srv.svc.clients, OIDC: srv.svc.oidc,
		DB: a.db, srv: srv, app: a}, nil
}

// StartJobs runs serve's background jobs until the returned stop is called
// (stop waits for them to return).
func (s *Stack) StartJobs(ctx context.Context) (stop func()) { return startJobs(ctx, s.srv.jobs) }

// startJobs runs each job in its own goroutine until stop is called; stop
// cancels them and waits for them to return. serve uses it too.
func startJobs(ctx context.Context, jobs []func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Go(func() { job(ctx) })
	}
	return func() { cancel(); wg.Wait() }
}

// Close waits for background request work, releases the rate limiter and
// closes the database, as serve does on shutdown. It is safe to call twice.
func (s *Stack) Close() {
	s.closeOnce.Do(func() {
		s.srv.close()
		s.app.Close()
	})
}

// nopWriter discards log output when Build gets no logger.
type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
