package cmd_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
)

// mailpitModule is the Mailpit the tests run, pinned. It is built with `go
// install module@version`, which resolves Mailpit's own (large) dependency
// graph apart from authsvc's go.mod: authsvc's versions do not change.
const mailpitModule = "github.com/axllent/mailpit@v1.33.1"

// mailpitBinary returns a Mailpit executable: AUTHSVC_MAILPIT_BIN, else one
// built earlier into the user cache, else — with AUTHSVC_TEST_REQUIRE_MAILPIT
// set — one built now. Without either, the test is skipped with how to get it.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("AUTHSVC_MAILPIT_BIN"); bin != "" {
		return bin
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "authsvc-test", strings.ReplaceAll(mailpitModule, "/", "_"))
	bin := filepath.Join(dir, "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	how := "GOBIN=" + dir + " go install " + mailpitModule
	if os.Getenv("AUTHSVC_TEST_REQUIRE_MAILPIT") == "" {
		t.Skipf("Mailpit not found: build it with `%s`, point AUTHSVC_MAILPIT_BIN at one, or set AUTHSVC_TEST_REQUIRE_MAILPIT=1 to build it here", how)
	}
	build := exec.Command("go", "install", mailpitModule)
	build.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	build.Dir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("AUTHSVC_TEST_REQUIRE_MAILPIT is set and `%s` failed: %v\n%s", how, err, out)
	}
	return bin
}

// mailpit is a running Mailpit process.
type mailpit struct {
	smtpHost, smtpPort, api string
}

func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	smtpAddr, httpAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	cmd := exec.Command(bin, "--smtp", smtpAddr, "--listen", httpAddr, "--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--disable-version-check", "--quiet")
	logs := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck // stopping
	m := &mailpit{api: "http://" + httpAddr}
	m.smtpHost, m.smtpPort, _ = strings.Cut(smtpAddr, ":")
	waitFor(t, func() bool {
		resp, err := http.Get(m.api + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return m
}

// mailpitMessage is what Mailpit's API lists of one message.
type mailpitMessage struct {
	ID      string
	Subject string
	To      []struct{ Address string }
}

// text returns the text/plain part of msg.
func (m *mailpit) text(t *testing.T, msg mailpitMessage) string {
	t.Helper()
	resp, err := http.Get(m.api + "/api/v1/message/" + msg.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var full struct{ Text string }
	if err := json.NewDecoder(resp.Body).Decode(&full); err != nil {
		t.Fatal(err)
	}
	return full.Text
}

// waitForMessage waits until Mailpit holds a message to to whose subject
// contains subject.
func (m *mailpit) waitForMessage(t *testing.T, to, subject string) mailpitMessage {
	t.Helper()
	var found mailpitMessage
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(m.api + "/api/v1/messages")
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Messages []mailpitMessage }
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range list.Messages {
			if len(msg.To) == 1 && msg.To[0].Address == to && strings.Contains(msg.Subject, subject) {
				found = msg
				return found
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no message to %s with subject %q reached Mailpit within 20s", to, subject)
	return found
}

// `mail test` with the original's MAIL_* settings (a user name and password
// that Mailpit does not ask for), and a password-reset mail from serve with
// compose.yaml's settings, both delivered to a real Mailpit.
func TestMailpit(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t)

	t.Run("mail test with the original's credentials", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, "", "MAIL_SERVER="+mp.smtpHost, "MAIL_PORT="+mp.smtpPort, "MAIL_STARTTLS=False", "MAIL_SSL_TLS=False",
			"MAIL_USERNAME=your-email@example.com", "MAIL_PASSWORD=your-email-password", "MAIL_FROM=noreply@example.com")
		r := c.run("mail", "test", "dotenv@example.com")
		expectExit(t, r, 0)
		if !strings.Contains(r.stdout, "no AUTH offered") || strings.Contains(r.stdout+r.stderr, "your-email-password") {
			t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
		}
		mp.waitForMessage(t, "dotenv@example.com", "authsvc test message")
	})

	t.Run("a password-reset mail with compose.yaml's settings", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, "", "AUTHSVC_MAIL_HOST="+mp.smtpHost, "AUTHSVC_MAIL_PORT="+mp.smtpPort, "AUTHSVC_MAIL_STARTTLS=false",
			"AUTHSVC_MAIL_FROM=noreply@authsvc.local", "AUTHSVC_MAIL_FRONTEND_URL=http://localhost:3000")
		expectExit(t, c.run("mail", "test", "compose@example.com"), 0)
		s := c.startServer()
		body := fmt.Sprintf(`{"username":"mailpit_user","email":"mailpit_user@example.com","password":%q}`, testPassword)
		post(t, s, "/auth/register", body, 201)
		post(t, s, "/auth/password-reset-request", `{"email":"mailpit_user@example.com"}`, 200)
		msg := mp.waitForMessage(t, "mailpit_user@example.com", "eset")
		if text := mp.text(t, msg); !strings.Contains(text, "http://localhost:3000/reset-password?token=") {
			t.Fatalf("the reset mail has no link to the front end:\n%s", text)
		}
	})
}
