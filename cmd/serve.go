package cmd

import (
	"log/slog"

	"context"
	"errors"
	"fmt"
	"github.com/authsvc/authsvc/pkg/oidcprovider"
	"github.com/rs/zerolog"
	"net"
	"net/http"
	"time"

	"github.com/authsvc/authsvc/pkg/signingkeys"
	"github.com/spf13/cobra"
)

func newServeCommand(a *app) *cobra.Command {
	var wait time.Duration
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API",
		Long: `Run the HTTP API. With database.auto_migrate (the default) pending migrations
are applied first. On SIGTERM shutdown takes two steps: /readyz answers 503
at once while the listener keeps accepting and serving for
server.shutdown_delay (default 5s, so load balancers stop sending first);
then the listener closes, in-flight requests finish (at most
server.shutdown_grace), the background workers stop, the database is closed
and the process exits 0. Ctrl-C (SIGINT) skips the delay. With
server.metrics_addr set, GET /metrics is served on that second listener only
(for Prometheus); otherwise the API's listener serves it without the series
that could tell whether an account exists.`,
		Example: `  authsvc serve
  authsvc serve --addr 127.0.0.1:9000
  AUTHSVC_SERVER_METRICS_ADDR=127.0.0.1:9090 authsvc serve
  AUTHSVC_DATABASE_URL=postgres://postgres@localhost/authsvc?sslmode=disable authsvc serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.load(cmd, map[string]string{"addr": "server.addr"}); err != nil {
				return err
			}
			return a.serve(cmd.Context(), wait)
		},
	}
	c.Flags().String("addr", ":8080", "listen address (overrides server.addr)")
	c.Flags().DurationVar(&wait, "wait", 60*time.Second, "how long to wait for the database at startup")
	return c
}

// serve runs the HTTP server and the background jobs until ctx is cancelled.
func (a *app) serve(ctx context.Context, wait time.Duration) error {
	// The OpenID Connect library logs through log/slog: into serve's log.
	slog.SetDefault(slog.New(zerolog.NewSlogHandler(a.log.With().Str("component", "oidc").Logger())))
	srv, err := a.buildStack(ctx, wait)
	if err != nil {
		return err
	}
	defer srv.close()
	db := a.db

	ln, err := net.Listen("tcp", a.cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Server.Addr, err)
	}
	httpServer := &http.Server{
		Handler:           srv.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}

	stopJobs := startJobs(context.WithoutCancel(ctx), srv.jobs)

	serveErr := make(chan error, 2)
	go func() { serveErr <- httpServer.Serve(ln) }()
	a.log.Info().Str("addr", ln.Addr().String()).Str("database", string(db.Dialect)).Msg("authsvc listening")
	if srv.metrics != nil {
		metricsServer, err := a.serveMetrics(srv.metrics, serveErr)
		if err != nil {
			httpServer.Close()
			stopJobs()
			return err
		}
		defer metricsServer.Close()
	}

	select {
	case err := <-serveErr:
		stopJobs()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	// Step 1: stop being ready at once, but keep accepting for the delay,
	// while load balancers and endpoints controllers notice. Ctrl-C skips
	// the delay: nothing routes by readiness to a terminal.
	a.draining.Store(true)
	if delay := a.cfg.Server.ShutdownDelay; delay > 0 && !interactiveStop(ctx) {
		a.log.Info().Dur("delay", delay).Msg("draining: /readyz answers 503; still accepting")
		select {
		case <-time.After(delay):
		case err := <-serveErr:
			stopJobs()
			return fmt.Errorf("http server: %w", err)
		}
	}
	// Step 2: close the listener and let in-flight requests finish.
	a.log.Info().Dur("grace", a.cfg.Server.ShutdownGrace).Msg("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.Server.ShutdownGrace)
	defer cancel()
	err = httpServer.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		a.log.Warn().Msg("grace period over: closing remaining connections")
		httpServer.Close()
		err = nil
	}
	stopJobs()
	a.log.Info().Msg("stopped")
	return err
}

// serveMetrics listens on server.metrics_addr and serves h there until it is
// closed; a failure to serve is sent to errs.
func (a *app) serveMetrics(h http.Handler, errs chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", a.cfg.Server.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (server.metrics_addr): %w", a.cfg.Server.MetricsAddr, err)
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("metrics listener: %w", err)
		}
	}()
	a.log.Info().Str("addr", ln.Addr().String()).Msg("metrics listening")
	return s, nil
}

// readyTimeout bounds /readyz: it answers within it whatever the database does.
const readyTimeout = 2 * time.Second

// ready reports whether the service can take traffic: not shutting down,
// the database answers, accepts writes and has no pending migration. It
// returns within readyTimeout even when the database hangs.
func (a *app) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errors.New("shutting down")
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- a.checkDB(ctx) }()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("database: no answer within %s", readyTimeout)
	}
}

// checkDB is ready's database probe.
func (a *app) checkDB(ctx context.Context) error {
	readOnly, err := a.db.ReadOnly(ctx)
	if err != nil {
		return err
	}
	if readOnly {
		return errors.New("database is read-only (standby in recovery or default_transaction_read_only)")
	}
	pending, err := a.db.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	if pending > 0 {
		return fmt.Errorf("%d migration(s) pending", pending)
	}
	return nil
}

// readyWithKeys is ready, and the signing keys loaded (loading them now when
// they are not yet, e.g. right after the migrations were applied).
func (a *app) readyWithKeys(k *signingkeys.Service, provider *oidcprovider.Provider) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := a.ready(ctx); err != nil {
			return err
		}
		if k.Loaded() {
			if err := k.Usable(); err != nil {
				return err
			}
			if provider != nil { // an OpenID provider that cannot sign ID tokens serves nobody
				return provider.Ready()
			}
			return nil
		}
		if err := k.Load(ctx); err != nil {
			return fmt.Errorf("signing keys not loaded: %w", err)
		}
		return nil
	}
}
