package cmd

import (
	"context"
	"net/http"
	"time"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/httpapi"
)

// janitorInterval is how often expired revocations and reset tokens are purged.
const janitorInterval = 10 * time.Minute

// server is everything serve runs: the HTTP handler and the background jobs
// (each runs until its context is cancelled), and what to release at the end.
type server struct {
	handler http.Handler
	jobs    []func(ctx context.Context)
	close   func()
}

// buildServer wires the services into the HTTP API and the background jobs.
func (a *app) buildServer(ctx context.Context) (*server, error) {
	svc, err := a.buildServices(a.db, nil, credits.Options{})
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
		},
		close: func() {},
	}, nil
}
