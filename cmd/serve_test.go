package cmd_test

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A fresh machine: no configuration at all.
func TestServeZeroConfig(t *testing.T) {
	c := &cli{t: t, dir: t.TempDir()} // no AUTHSVC_* variables, not even a secret
	s := c.startServer()
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := s.get(t, path); code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "authsvc.db")); err != nil {
		t.Fatalf("SQLite file not created: %v", err)
	}
	info, err := os.Stat(filepath.Join(c.dir, "authsvc.db.secret"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, mode %v", err, info)
	}
	if !strings.Contains(s.logs.String(), "generated one for development") {
		t.Fatalf("no warning about the generated secret:\n%s", s.logs.String())
	}
}

// SIGTERM while a request is in flight: it completes, and the process exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	c := newCLI(t, "")
	s := c.startServer()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"email":"nobody@example.com"}`
	// With "Expect: 100-continue" the server answers "100 Continue" only once
	// the handler starts reading the body: then the request is surely in flight.
	head := "POST /auth/password-reset-request HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Expect: 100-continue\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	reader := bufio.NewReader(conn)
	if line, err := reader.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	reader.ReadString('\n') //nolint:errcheck // the blank line ending the interim response
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(s.logs.String(), "shutting down") })
	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	status, err := reader.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("in-flight request got no 200 response: %q %v", status, err)
	}
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	// Once stopped, nothing listens any more.
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), time.Second); err == nil {
		t.Fatal("still accepting connections after exit")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGTERM starts a two-step shutdown: /readyz answers 503 at once, new
// connections are still served during server.shutdown_delay, then the
// process drains and exits 0.
func TestServeShutdownDelay(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "", "AUTHSVC_SERVER_SHUTDOWN_DELAY=3s")
	s := c.startServer()
	if code, body := s.get(t, "/readyz"); code != 200 {
		t.Fatalf("readyz before SIGTERM: %d %s", code, body)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The signal is delivered asynchronously: poll, but far below the delay.
	deadline := time.Now().Add(time.Second)
	for {
		code, _ := s.get(t, "/readyz")
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d a second after SIGTERM", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A brand-new connection during the delay is accepted and served.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(s.base + "/healthz")
	if err != nil {
		t.Fatalf("new connection during the shutdown delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz during the delay: %d", resp.StatusCode)
	}
	select {
	case <-s.done:
		t.Fatal("exited before the shutdown delay was over")
	default:
	}
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}
