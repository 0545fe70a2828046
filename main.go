// Command authsvc is an authentication service (HTTP JSON API) and the admin
// command line for it, in one binary. See README.md.
package main

import (
	"context"
	"os"
	"syscall"

	"github.com/authsvc/authsvc/cmd"
)

func main() {
	ctx, stop := cmd.SignalContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Execute(ctx, os.Args[1:], cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
