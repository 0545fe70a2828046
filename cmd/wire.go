package cmd

import (
	"context"
	"net/http"

	"github.com/authsvc/authsvc/pkg/httpapi"
)

// server is everything serve runs: the HTTP handler and the background jobs
// (each runs until its context is cancelled), and what to release at the end.
type server struct {
	handler http.Handler
	jobs    []func(ctx context.Context)
	close   func()
}

// buildServer wires the services into the HTTP API.
func (a *app) buildServer(ctx context.Context) (*server, error) {
	api := httpapi.New(httpapi.Deps{Ready: a.ready, Logger: a.log}, httpapi.Options{})
	return &server{handler: api.Handler(), close: func() {}}, nil
}
