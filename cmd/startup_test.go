package cmd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/mail/mailtest"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/golang-jwt/jwt/v5"
)

// Admin commands never create a database: a missing SQLite file or folder is
// exit 5 with one clear line, and nothing appears on disk.
func TestAdminCommandsNeverCreateADatabase(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	for _, url := range []string{"sqlite:authsvc.bd", "sqlite:missing/dir/x.db"} {
		for _, args := range [][]string{
			{"user", "list"}, {"user", "show", "alice"}, {"credits", "balance", "alice"},
			{"token", "issue", "alice"}, {"migrate", "status"}, {"migrate", "down"},
			{"user", "import", "-"}, {"keys", "list"}, {"audit", "list"},
		} {
			r := c.runStdin("", append(args, "--database-url", url)...)
			expectExit(t, r, 5)
			want := "error: database " + url + " does not exist (run authsvc migrate up or authsvc serve first)\n"
			if !strings.HasSuffix(r.stderr, want) {
				t.Fatalf("%v: stderr %q, want it to end with %q", args, r.stderr, want)
			}
		}
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("admin commands created %v", entries)
	}
	// migrate up is the one that creates it.
	expectExit(t, c.run("migrate", "up", "--database-url", "sqlite:authsvc.bd"), 0)
	expectExit(t, c.run("user", "list", "--database-url", "sqlite:authsvc.bd"), 0)
}

// An unreachable database names its cause once.
func TestUnreachableCauseOnce(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "postgres://postgres@127.0.0.1:1/authsvc?sslmode=disable&connect_timeout=1")
	r := c.run("migrate", "status", "--wait", "1s")
	expectExit(t, r, 5)
	last := strings.TrimSpace(r.stderr[strings.LastIndex(strings.TrimSpace(r.stderr), "\n")+1:])
	if strings.Count(last, "connection refused") != 1 || !strings.HasPrefix(last, "error: database unavailable: database unreachable after 1s: ") {
		t.Fatalf("want the cause once: %q", last)
	}
}

func TestHelpListsExitCodes(t *testing.T) {
	t.Parallel()
	r := newCLI(t, "").run("--help")
	for _, want := range []string{"Exit codes:", "0    success", "2    usage", "3    not found", "4    conflict",
		"5    database unreachable or missing", "130  interrupted", "--env-file"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("authsvc --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

// The original's .env starts serve: JSON logs with @timestamp, each unused
// name reported once, and the real environment (here the database and the
// local mail catcher) wins over the file.
func TestOriginalDotenvStartsServe(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			smtp := mailtest.Start(t, mailtest.Options{})
			c := &cli{t: t, dir: t.TempDir(), env: []string{
				"DATABASE_URL=" + b.URL(t), "AUTHSVC_TESTING=1", "AUTHSVC_AUTH_BCRYPT_COST=4",
				"MAIL_SERVER=" + smtp.Host, "MAIL_PORT=" + itoa(smtp.Port), "MAIL_STARTTLS=False", "MAIL_SSL_TLS=False",
				"MAIL_USERNAME=",
			}}
			if err := os.WriteFile(filepath.Join(c.dir, ".env"), []byte(testkit.OriginalDotenv), 0o600); err != nil {
				t.Fatal(err)
			}
			s := c.startServer()
			if code, _ := s.get(t, "/readyz"); code != 200 {
				t.Fatalf("readyz %d", code)
			}
			waitFor(t, func() bool { return strings.Contains(s.logs.String(), "mail: SMTP") })
			lines := jsonLines(t, s.logs.String())
			counts := map[string]int{}
			for _, l := range lines {
				msg, _ := l["message"].(string)
				for _, name := range []string{"SERVICE_NAME", "DEBUG", "TEST_DATABASE_URL", "LOG_RETENTION"} {
					if strings.HasPrefix(msg, name+" is not used: ") {
						counts[name]++
					}
				}
				ts, _ := l["@timestamp"].(string)
				if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts) {
					t.Fatalf("line without @timestamp in RFC 3339 with milliseconds: %v", l)
				}
				if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || l["time"] == nil {
					t.Fatalf("bad @timestamp or no time: %v", l)
				}
			}
			for _, name := range []string{"SERVICE_NAME", "DEBUG", "TEST_DATABASE_URL", "LOG_RETENTION"} {
				if counts[name] != 1 {
					t.Fatalf("%s reported %d times, want once:\n%s", name, counts[name], s.logs.String())
				}
			}
			if !strings.Contains(s.logs.String(), `"mail: SMTP `+smtp.Addr()+` works`) {
				t.Fatalf("no mail probe success line:\n%s", s.logs.String())
			}
			// A token signed with the .env's SECRET_KEY works: the file was honoured.
			register(t, s, "newcomer")
			// A token of the original (same secret, its claims) is refused: users log in again.
			old := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "newcomer", "user_id": 1,
				"username": "newcomer", "is_admin": false, "exp": time.Now().Add(time.Hour).Unix()})
			signed, err := old.SignedString([]byte(testkit.OriginalDotenvSecret))
			if err != nil {
				t.Fatal(err)
			}
			if code, _ := s.authGet(t, "/auth/me", signed); code != 401 {
				t.Fatalf("a token of the original: %d, want 401", code)
			}
			// Real mail and a working reset link, from MAIL_* and FRONTEND_URL.
			post(t, s, "/auth/password-reset-request", `{"email":"newcomer@example.com"}`, 200)
			// (welcome and verification mails arrive too; wait for the reset mail)
			var link string
			waitFor(t, func() bool {
				for _, m := range smtp.Messages() {
					if m.EnvelopeFrom == "noreply@example.com" {
						link += regexp.MustCompile(`http://localhost:3000/reset-password\?token=\S+`).FindString(m.Text)
					}
				}
				return link != ""
			})
			u, err := url.Parse(link)
			if err != nil || u.Query().Get("token") == "" {
				t.Fatalf("no reset link from noreply@example.com: %q", link)
			}
			body, _ := json.Marshal(map[string]string{"token": u.Query().Get("token"), "new_password": "a brand new passphrase"})
			post(t, s, "/auth/reset-password", string(body), 200)
			if code := login(t, s, "newcomer", "a brand new passphrase"); code != 200 {
				t.Fatalf("login with the new password: %d", code)
			}
		})
	}
}

// jsonLines parses every line of out as JSON, failing on any other line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		lines = append(lines, m)
	}
	return lines
}

func itoa(n int) string { return strconv.Itoa(n) }

// register registers a user over HTTP and checks that the token is signed
// with the .env's SECRET_KEY.
func register(t *testing.T, s *server, username string) {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"email":"%s@example.com","password":%q}`, username, username, testPassword)
	resp, err := http.Post(s.base+"/auth/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 201 {
		t.Fatalf("register: %d %v", resp.StatusCode, err)
	}
	_, err = jwt.Parse(out.AccessToken, func(*jwt.Token) (any, error) { return []byte(testkit.OriginalDotenvSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		t.Fatalf("token not signed with the .env's SECRET_KEY: %v", err)
	}
}

// MAIL_SERVER alone selects SMTP; `mail test` sends, or says what is wrong.
func TestMailTestCommand(t *testing.T) {
	t.Parallel()
	smtp := mailtest.Start(t, mailtest.Options{})
	c := newCLI(t, "", "MAIL_SERVER="+smtp.Host, "MAIL_PORT="+itoa(smtp.Port))

	r := c.run("mail", "test", "you@example.com")
	expectExit(t, r, 1)
	if !strings.Contains(r.stderr, "STARTTLS failed: the server does not offer STARTTLS; set mail.starttls: false (MAIL_STARTTLS=False)") {
		t.Fatalf("stderr %q", r.stderr)
	}

	c.env = append(c.env, "MAIL_STARTTLS=False")
	r = c.run("mail", "test", "you@example.com")
	expectExit(t, r, 0)
	if got := smtp.WaitFor(t, 1, 10*time.Second); got[0].Subject != "authsvc test message" || got[0].EnvelopeTo[0] != "you@example.com" {
		t.Fatalf("got %+v", got[0])
	}
	expectExit(t, c.run("mail", "test", "not an address"), 2)

	logOnly := newCLI(t, "")
	r = logOnly.run("mail", "test", "you@example.com")
	expectExit(t, r, 1)
	if !strings.Contains(r.stderr, "mail.driver is log: nothing is sent") {
		t.Fatalf("stderr %q", r.stderr)
	}
}

// A PostgreSQL database that does not exist fails at once, not after the
// wait, and the password in the URL is not shown.
func TestMissingPostgresDatabaseExits5(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/authsvc_missing_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	u.User = url.UserPassword(u.User.Username(), "hunter2-secret")
	c := newCLI(t, u.String())
	r := c.run("user", "list", "--database-url", u.String())
	expectExit(t, r, 5)
	if !strings.Contains(r.stderr, "does not exist (create it, e.g. with createdb, then run authsvc migrate up)") ||
		strings.Contains(r.stderr, "hunter2-secret") || strings.Contains(r.stderr, "database not ready") {
		t.Fatalf("stderr %q", r.stderr)
	}
}

// serve with MAIL_SERVER only (STARTTLS required by default) against a server
// without STARTTLS: one clear line at startup, and serve keeps running.
func TestServeReportsSMTPWithoutSTARTTLS(t *testing.T) {
	t.Parallel()
	smtp := mailtest.Start(t, mailtest.Options{})
	c := newCLI(t, "", "MAIL_SERVER="+smtp.Host, "MAIL_PORT="+itoa(smtp.Port), "AUTHSVC_LOG_FORMAT=json")
	s := c.startServer()
	want := "mail: SMTP " + smtp.Addr() + ": STARTTLS failed: the server does not offer STARTTLS; set mail.starttls: false (MAIL_STARTTLS=False)"
	waitFor(t, func() bool { return strings.Contains(s.logs.String(), want) })
	n := 0
	for _, l := range jsonLines(t, s.logs.String()) {
		if msg, _ := l["message"].(string); strings.HasPrefix(msg, "mail: SMTP ") {
			n++
			if l["level"] != "error" {
				t.Fatalf("the failed check is not an error line: %v", l)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d mail check lines, want 1:\n%s", n, s.logs.String())
	}
	if code, _ := s.get(t, "/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
}

// Stopping a command that waits says "interrupted", once, with exit code 130.
func TestInterruptedCommand(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "postgres://postgres@127.0.0.1:1/authsvc?sslmode=disable&connect_timeout=1")
	cmd := c.command(context.Background(), "", "migrate", "status", "--wait", "1m")
	logs := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "database not ready") })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130:\n%s", err, logs.String())
	}
	if !strings.HasSuffix(logs.String(), "error: interrupted\n") || strings.Contains(logs.String(), "context canceled") {
		t.Fatalf("want one line saying interrupted:\n%s", logs.String())
	}
}

func post(t *testing.T, s *server, path, body string, want int) {
	t.Helper()
	resp, err := http.Post(s.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d", path, resp.StatusCode, want)
	}
}

// The original's .env as published (SECRET_KEY=your-secret-key-here) is the
// one edit a newcomer must make: serve says so and how.
func TestOriginalDotenvShortKey(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, dir: t.TempDir()}
	env := strings.Replace(testkit.OriginalDotenv, "SECRET_KEY="+testkit.OriginalDotenvSecret, "SECRET_KEY=your-secret-key-here", 1)
	if err := os.WriteFile(filepath.Join(c.dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.run("serve")
	expectExit(t, r, 2)
	if !strings.Contains(r.stderr, "auth.secret_key: too short: 20 bytes, need at least 32 (generate one with: openssl rand -base64 48)") {
		t.Fatalf("stderr %q", r.stderr)
	}
}

// --env-file names another dotenv file; a missing one is a usage error.
func TestEnvFileFlag(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	if err := os.WriteFile(filepath.Join(c.dir, "staging.env"), []byte("DATABASE_URL=sqlite:from-staging-env.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.run("user", "list", "--env-file", "staging.env")
	expectExit(t, r, 5)
	if !strings.Contains(r.stderr, "error: database sqlite:from-staging-env.db does not exist") {
		t.Fatalf("the env file was not read: %q", r.stderr)
	}
	expectExit(t, c.run("user", "list", "--env-file", "missing.env"), 2)
}
