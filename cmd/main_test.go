package cmd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// binary is the authsvc executable the tests run, built once in TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authsvc-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "authsvc")
	build := exec.Command("go", "build", "-o", binary, "..") // no -race: the CLI tests start hundreds of processes
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build authsvc:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary in dir with the test environment plus env.
type cli struct {
	t   testing.TB
	dir string
	env []string
	bin string // the executable; "" for binary
}

func newCLI(t testing.TB, databaseURL string, env ...string) *cli {
	base := []string{
		"AUTHSVC_TESTING=1",
		"AUTHSVC_AUTH_BCRYPT_COST=4",
		"AUTHSVC_AUTH_SECRET_KEY=" + strings.Repeat("k", 40),
		"AUTHSVC_LOG_LEVEL=debug",
		"AUTHSVC_SERVER_SHUTDOWN_DELAY=0s",
	}
	if databaseURL != "" {
		base = append(base, "AUTHSVC_DATABASE_URL="+databaseURL)
	}
	return &cli{t: t, dir: t.TempDir(), env: append(base, env...)}
}

// newMigratedCLI is newCLI on a database that `migrate up` has created:
// admin commands never create one themselves.
func newMigratedCLI(t testing.TB, databaseURL string, env ...string) *cli {
	t.Helper()
	c := newCLI(t, databaseURL, env...)
	if r := c.run("migrate", "up"); r.code != 0 {
		t.Fatalf("migrate up: exit %d: %s", r.code, r.stderr)
	}
	return c
}

func (c *cli) command(ctx context.Context, stdin string, args ...string) *exec.Cmd {
	bin := binary
	if c.bin != "" {
		bin = c.bin
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(cleanEnv(), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

// run runs the binary to completion (at most a minute).
func (c *cli) run(args ...string) result { return c.runStdin("", args...) }

func (c *cli) runStdin(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := c.command(ctx, stdin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// cleanEnv is the process environment without any authsvc or original
// service variables, so the developer's shell cannot change a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AUTHSVC_") || legacyNames[name] || strings.HasPrefix(name, "MAIL_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

var legacyNames = map[string]bool{"DATABASE_URL": true, "SECRET_KEY": true, "ALGORITHM": true,
	"ACCESS_TOKEN_EXPIRE_MINUTES": true, "FRONTEND_URL": true, "LOG_LEVEL": true, "JSON_LOGS": true,
	"ENABLE_LOGSTASH": true, "SYSLOG_HOST": true, "SYSLOG_PORT": true, "ENVIRONMENT": true}

// server is a running `authsvc serve`.
type server struct {
	cmd     *exec.Cmd
	base    string
	logs    *testkit.SyncBuffer
	done    chan struct{}
	waitErr error
}

// listeningAddr finds the address in serve's "authsvc listening" log line
// (console or JSON format).
var listeningAddr = regexp.MustCompile(`(?m)^.*authsvc listening.*$`)
var addrField = regexp.MustCompile(`addr["=:]+"?([0-9.]+:[0-9]+)`)

// startServer runs `authsvc serve` on a port the kernel picks (so that
// parallel tests never race for one), reads the address from its log, and
// waits until /healthz answers there.
func (c *cli) startServer(args ...string) *server {
	c.t.Helper()
	cmd := c.command(context.Background(), "", append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	logs := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.done) }()
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if c.t.Failed() {
			c.t.Logf("server log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			c.t.Fatalf("serve exited early: %v\n%s", s.waitErr, logs.String())
		default:
		}
		if s.base == "" {
			if line := listeningAddr.FindString(logs.String()); line != "" {
				if m := addrField.FindStringSubmatch(line); m != nil {
					s.base = "http://" + m[1]
				}
			}
		}
		if s.base != "" {
			if resp, err := http.Get(s.base + "/healthz"); err == nil {
				resp.Body.Close()
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("serve did not answer within 30s:\n%s", logs.String())
	return nil
}

// get performs a GET and returns the status and body.
func (s *server) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// wait waits for the process to exit and returns its exit code.
func (s *server) wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(limit):
		t.Fatalf("serve did not exit within %s:\n%s", limit, s.logs.String())
	}
	var exitErr *exec.ExitError
	if errors.As(s.waitErr, &exitErr) {
		return exitErr.ExitCode()
	}
	if s.waitErr != nil {
		t.Fatal(s.waitErr)
	}
	return 0
}
