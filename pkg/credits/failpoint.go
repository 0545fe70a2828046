//go:build failpoint

package credits

import (
	"os"
	"syscall"
)

// In a binary built with -tags failpoint (tests only, never a release),
// AUTHSVC_FAILPOINT=capture-committed makes the process kill itself with
// SIGKILL right after a capture committed and before it is answered: the
// crash that the kill -9 test repeats a capture across.
func init() {
	if os.Getenv("AUTHSVC_FAILPOINT") == "capture-committed" {
		afterCaptureCommit = func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) } //nolint:errcheck // it does not return
	}
}
