package cmd_test

import (
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/creack/pty"
)

// `make run` stopped with Ctrl-C on a terminal: authsvc shuts down cleanly,
// without the delay meant for load balancers, and make exits 0 (no
// "make: *** [run] Error 1").
func TestMakeRunExitsZeroOnCtrlC(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("make", "-C", "..", "run", "ARGS=--addr "+testkit.FreeAddr(t))
	cmd.Env = append(cleanEnv(), "AUTHSVC_DATABASE_URL=sqlite:"+dir+"/run.db", "AUTHSVC_LOG_FORMAT=json",
		"AUTHSVC_AUTH_SECRET_KEY="+strings.Repeat("k", 40))
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	out := &testkit.SyncBuffer{}
	go io.Copy(out, ptmx) //nolint:errcheck // ends when the pty closes
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute) // make builds the binary first
	for !strings.Contains(out.String(), "authsvc listening") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("make run did not start:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("make run ended early: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := ptmx.Write([]byte{3}); err != nil { // Ctrl-C: SIGINT to the terminal's foreground job
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("make run did not stop on Ctrl-C:\n%s", out.String())
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) || err != nil {
		t.Fatalf("make run on Ctrl-C: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"message":"stopped"`) || strings.Contains(out.String(), "make: ***") {
		t.Fatalf("not a clean stop:\n%s", out.String())
	}
	if strings.Contains(out.String(), "draining") { // server.shutdown_delay is for load balancers
		t.Fatalf("Ctrl-C waited for server.shutdown_delay:\n%s", out.String())
	}
}
