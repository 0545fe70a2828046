package httpapi_test

import (
	"context"
	"github.com/authsvc/authsvc/internal/testkit"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/mail/mailtest"
	"github.com/rs/zerolog"
)

// End-to-end email tests: requests through the real HTTP API queue
// rows in the outbox; a real mail.Worker with the smtp driver delivers them
// to a real SMTP server in the test process.

// mailWait bounds every wait for the worker; the fast backoff below keeps
// the real durations far shorter.
const mailWait = 15 * time.Second

// startMailWorker runs a worker with the smtp driver configured by cfg on
// e.DB, with a fast backoff; it is stopped in t.Cleanup, which waits for Run
// to return. The worker logs into the env's log, so that the harness checks
// that no password or token leaks there.
func startMailWorker(t *testing.T, e *env, cfg mail.Config) {
	t.Helper()
	logger := zerolog.New(e.logs)
	renderer, err := mail.NewRenderer("", "")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSender(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	w := mail.NewWorker(e.DB, sender, renderer, mail.WorkerOptions{
		// An outage test must not exhaust the attempts.
		Retry:        mail.RetryPolicy{MaxAttempts: 1000, Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		PollInterval: 20 * time.Millisecond,
		Logger:       logger,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker.Run: %v", err)
		}
	})
}

// startMail starts an SMTP server and a worker sending to it.
func startMail(t *testing.T, e *env) *mailtest.Server {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{})
	startMailWorker(t, e, srv.MailConfig())
	return srv
}

// outboxWhere counts outbox rows matching a condition.
func (e *env) outboxWhere(cond string) int {
	e.t.Helper()
	var n int
	if err := e.SQL().Get(&n, `SELECT COUNT(*) FROM email_outbox WHERE `+cond); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// pollUntil polls cond every 10ms until it holds, failing t after mailWait.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", mailWait, what)
		}
		<-tick.C
	}
}

// drained waits until every queued email is sent (none pending; a failed one
// fails the test), then returns what the server received. Once no row is
// pending, no further send can happen, so the result is final.
func (e *env) drained(t *testing.T, srv *mailtest.Server) []mailtest.Message {
	t.Helper()
	e.Auth.Wait() // reset emails are queued just after the response
	pollUntil(t, "the outbox is drained", func() bool {
		if n := e.outboxWhere(`status = 'failed'`); n > 0 {
			t.Fatalf("%d emails were marked failed", n)
		}
		return e.outboxWhere(`status <> 'sent'`) == 0
	})
	return srv.Messages()
}

// to returns the messages whose envelope is addressed to addr.
func to(msgs []mailtest.Message, addr string) []mailtest.Message {
	var out []mailtest.Message
	for _, m := range msgs {
		for _, rcpt := range m.EnvelopeTo {
			if strings.EqualFold(rcpt, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

func TestMailWelcomeOnRegister(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		srv := startMail(t, e)
		u := e.register("MailAlice")
		msgs := e.drained(t, srv)
		if len(msgs) != 2 {
			t.Fatalf("%d messages, want exactly 2: the welcome and the verification link", len(msgs))
		}
		var welcome, verify []mailtest.Message
		for _, m := range to(msgs, u.Email) {
			if strings.Contains(m.Text, testFrontendURL+"/verify-email?token=") {
				verify = append(verify, m)
			} else {
				welcome = append(welcome, m)
			}
		}
		if len(welcome) != 1 || len(verify) != 1 {
			t.Fatalf("%d welcome and %d verification messages, want 1 each", len(welcome), len(verify))
		}
		if !strings.Contains(verify[0].HTML, "/verify-email?token=") {
			t.Errorf("the verification HTML part has no link:\n%s", verify[0].HTML)
		}
		m := welcome[0]
		if m.Text == "" || m.HTML == "" {
			t.Fatalf("want a text/plain and a text/html part; text %q, html %q (type %s)", m.Text, m.HTML, m.ContentType)
		}
		if !strings.Contains(m.Text, u.Name) || !strings.Contains(m.HTML, u.Name) {
			t.Errorf("the parts do not both name %q:\ntext: %s\nhtml: %s", u.Name, m.Text, m.HTML)
		}
	})
}

// resetLinkToken finds the reset link in a message's text part, checks that
// it is under the env's frontend URL and returns its token.
func resetLinkToken(t *testing.T, e *env, m mailtest.Message) string {
	t.Helper()
	prefix := testFrontendURL + "/reset-password?token="
	i := strings.Index(m.Text, prefix)
	if i < 0 {
		t.Fatalf("no link starting %s in the reset email:\n%s", prefix, m.Text)
	}
	link := strings.Fields(m.Text[i:])[0]
	if !strings.Contains(m.HTML, link) {
		t.Errorf("the HTML part lacks the link %s", link)
	}
	parsed, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	tok := parsed.Query().Get("token")
	if tok == "" {
		t.Fatalf("empty token in %s", link)
	}
	e.secret(tok)
	return tok
}

func TestMailPasswordResetLinkResetsThePassword(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		srv := startMail(t, e)
		u := e.register("resetbob")
		e.do("POST", "/auth/password-reset-request", map[string]string{"email": u.Email}, "").want(t, http.StatusOK, "")
		var resets []mailtest.Message
		for _, m := range to(e.drained(t, srv), u.Email) {
			if strings.Contains(m.Text, "/reset-password?token=") {
				resets = append(resets, m)
			}
		}
		if len(resets) != 1 {
			t.Fatalf("%d reset messages to %s, want 1", len(resets), u.Email)
		}
		tok := resetLinkToken(t, e, resets[0])
		newPW := "Brand-New-Str0ng-pw"
		e.secret(newPW)
		e.do("POST", "/auth/reset-password", map[string]string{"token": tok, "new_password": newPW}, "").
			want(t, http.StatusOK, "")
		e.login(u.Name, newPW).want(t, http.StatusOK, "")
		e.login(u.Name, u.Password).want(t, http.StatusUnauthorized, "")
	})
}

func TestMailEmailChangeNotifiesTheOldAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		srv := startMail(t, e)
		u := e.register("movecarol")
		newEmail := "carol.new@example.com"
		e.do("PUT", "/auth/users/"+u.Name+"/email", map[string]string{"new_email": newEmail, "current_password": u.Password},
			u.Token).want(t, http.StatusOK, "")
		msgs := e.drained(t, srv)
		var notices []mailtest.Message
		for _, m := range to(msgs, u.Email) {
			if strings.Contains(m.Text, newEmail) {
				notices = append(notices, m)
			}
		}
		if len(notices) != 1 {
			t.Fatalf("%d messages to the old address %s name %s, want 1", len(notices), u.Email, newEmail)
		}
		if !strings.Contains(notices[0].HTML, newEmail) || !strings.Contains(notices[0].Text, u.Email) {
			t.Errorf("the notice should name both addresses in both parts:\ntext: %s\nhtml: %s", notices[0].Text, notices[0].HTML)
		}
		got := to(msgs, newEmail)
		if len(got) != 1 || !strings.Contains(got[0].Text, testFrontendURL+"/verify-email?token=") {
			t.Errorf("%d messages to the new address, want 1: its verification link", len(got))
		}
	})
}

// TestMailSurvivesSMTPOutage: the worker first finds no SMTP server at its
// address (connection refused), then a server that answers 451 once, then
// one that accepts. Requests never wait on SMTP and every message arrives
// exactly once.
func TestMailSurvivesSMTPOutage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		addr := testkit.FreeAddr(t)
		host, portStr, _ := net.SplitHostPort(addr)
		port, err := strconv.Atoi(portStr)
		if err != nil {
			t.Fatal(err)
		}
		startMailWorker(t, e, mail.Config{Driver: mail.DriverSMTP, Host: host, Port: port, From: "authsvc@example.com",
			Timeout: 5 * time.Second, SendTimeout: 10 * time.Second})

		names := []string{"downa", "downb", "downc", "downd", "downe"}
		users := make([]*user, len(names))
		for i, name := range names {
			users[i] = e.register(name) // asserts 201; nothing can be delivered yet
		}
		n := 2 * len(users) // welcome and verification link
		if got := e.outboxCount("welcome") + e.outboxCount("verify_email"); got != n {
			t.Fatalf("%d welcome and verification emails queued, want %d", got, n)
		}
		pollUntil(t, "every queued email has failed at least once", func() bool {
			return e.outboxWhere(`status = 'pending' AND attempts >= 1 AND last_error IS NOT NULL`) == n
		})

		srv := mailtest.Start(t, mailtest.Options{Addr: addr}) // SMTP comes up
		srv.RejectNext(1)                                      // and is flaky once more
		msgs := e.drained(t, srv)
		if len(msgs) != n {
			t.Errorf("%d messages arrived, want %d", len(msgs), n)
		}
		for _, u := range users {
			if got := to(msgs, u.Email); len(got) != 2 {
				t.Errorf("%d messages to %s, want exactly 2 (welcome, verification)", len(got), u.Email)
			}
		}
	})
}

func TestMailResetForUnknownEmailQueuesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u := e.register("knowndave") // queues its welcome; no worker runs here
		before, _, err := e.DB.OutboxStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		unknown := e.do("POST", "/auth/password-reset-request", map[string]string{"email": "nobody-here@example.com"}, "")
		unknown.want(t, http.StatusOK, "")
		e.Auth.Wait()
		after, _, err := e.DB.OutboxStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after != before || e.outboxCount("password_reset") != 0 {
			t.Fatalf("a reset for an unknown email queued something: pending %d → %d, resets %d",
				before, after, e.outboxCount("password_reset"))
		}
		known := e.do("POST", "/auth/password-reset-request", map[string]string{"email": u.Email}, "")
		known.want(t, http.StatusOK, "")
		if string(unknown.Body) != string(known.Body) {
			t.Errorf("bodies differ: unknown %s, known %s", unknown.Body, known.Body)
		}
		if got := e.outboxCount("password_reset"); got != 1 {
			t.Errorf("%d reset emails queued for the known address, want 1", got)
		}
	})
}
