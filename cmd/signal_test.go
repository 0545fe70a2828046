package cmd

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestSignalContextNamesTheSignal(t *testing.T) {
	ctx, stop := SignalContext(context.Background(), syscall.SIGUSR1)
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the signal did not end the context")
	}
	var s Signal
	if !errors.As(context.Cause(ctx), &s) || s.Signal != syscall.SIGUSR1 {
		t.Fatalf("cause = %v", context.Cause(ctx))
	}
	if !errors.Is(ctx.Err(), context.Canceled) || interactiveStop(ctx) {
		t.Fatalf("err %v, interactive %v", ctx.Err(), interactiveStop(ctx))
	}
}

func TestOnlyCtrlCIsAnInteractiveStop(t *testing.T) {
	for _, c := range []struct {
		cause error
		want  bool
	}{
		{Signal{os.Interrupt}, true},
		{Signal{syscall.SIGTERM}, false},
		{nil, false}, // a plain cancel (tests, embedding)
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(c.cause)
		if got := interactiveStop(ctx); got != c.want {
			t.Errorf("cause %v: interactive %v, want %v", c.cause, got, c.want)
		}
	}
}
