package cmd

import (
	"context"
	"net/http"
	"time"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/httpapi"
	"github.com/authsvc/authsvc/pkg/mail"
)

const (
	// janitorInterval is how often expired revocations and reset tokens are purged.
	janitorInterval = 10 * time.Minute
	// mailRetryBase and mailRetryCap shape the outbox backoff: 15 s doubling
	// to 15 min, so the default 8 attempts ride out about half an hour of
	// SMTP outage before a message is marked failed.
	mailRetryBase = 15 * time.Second
	mailRetryCap  = 15 * time.Minute
)

// server is everything serve runs: the HTTP handler and the background jobs
// (each runs until its context is cancelled), and what to release at the end.
type server struct {
	handler http.Handler
	jobs    []func(ctx context.Context)
	close   func()
}

// buildServer wires the services into the HTTP API and the background jobs.
// Everything that can be checked at startup (templates, mail settings) is
// checked here, so a bad setting stops serve instead of failing later.
func (a *app) buildServer(ctx context.Context) (*server, error) {
	svc, err := a.buildServices(a.db, nil, credits.Options{})
	if err != nil {
		return nil, err
	}
	worker, err := a.mailWorker()
	if err != nil {
		return nil, err
	}
	api := httpapi.New(httpapi.Deps{
		Auth:          svc.auth,
		Credits:       svc.credits,
		Authenticator: svc.auth,
		Ready:         a.ready,
		Logger:        a.log,
	}, httpapi.Options{})
	return &server{
		handler: api.Handler(),
		jobs: []func(context.Context){
			func(ctx context.Context) { svc.auth.RunJanitor(ctx, janitorInterval) },
			func(ctx context.Context) { worker.Run(ctx) }, //nolint:errcheck // Run returns nil on cancel
		},
		close: func() {},
	}, nil
}

// mailWorker builds the outbox worker with its renderer and driver.
func (a *app) mailWorker() (*mail.Worker, error) {
	m := a.cfg.Mail
	renderer, err := mail.NewRenderer(m.TemplatesDir, "")
	if err != nil {
		return nil, err
	}
	sender, err := mail.NewSender(mail.Config{
		Driver: m.Driver, Host: m.Host, Port: m.Port, Username: m.Username, Password: m.Password,
		From: m.From, SSLTLS: m.SSLTLS, StartTLS: m.StartTLS, TemplatesDir: m.TemplatesDir,
		FrontendURL: m.FrontendURL, MaxAttempts: m.MaxAttempts,
	}, a.log)
	if err != nil {
		return nil, err
	}
	return mail.NewWorker(a.db, sender, renderer, mail.WorkerOptions{
		MaxAttempts: m.MaxAttempts,
		Backoff:     mail.ExponentialBackoff(mailRetryBase, mailRetryCap),
		Logger:      a.log,
	}), nil
}
