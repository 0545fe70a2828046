package cmd

import (
	"context"
	"errors"
	"os"
	"os/signal"
)

// Signal is the cause (context.Cause) of a context that SignalContext
// cancelled: the signal that stopped the command.
type Signal struct{ os.Signal }

func (s Signal) Error() string { return s.Signal.String() + " signal received" }

// SignalContext is signal.NotifyContext whose cause tells which signal
// arrived, so that serve can tell Ctrl-C from an orchestrator's SIGTERM.
// Later signals are ignored until stop is called.
func SignalContext(parent context.Context, signals ...os.Signal) (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, signals...)
	go func() {
		select {
		case s := <-ch:
			cancel(Signal{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// interactiveStop reports that ctx ended by Ctrl-C (SIGINT): someone at a
// terminal, not a load balancer, is waiting for the process to end.
func interactiveStop(ctx context.Context) bool {
	var s Signal
	return errors.As(context.Cause(ctx), &s) && s.Signal == os.Interrupt
}
