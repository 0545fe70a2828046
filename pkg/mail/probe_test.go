package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/mail/mailtest"
)

func TestProbe(t *testing.T) {
	ctx := context.Background()
	probeFails := func(t *testing.T, cfg mail.Config, step string, wants ...string) {
		t.Helper()
		line, err := mail.Probe(ctx, cfg)
		var pe *mail.ProbeError
		if !errors.As(err, &pe) || pe.Step != step {
			t.Fatalf("want a %s failure, got %q %v", step, line, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Fatalf("not one line: %q", msg)
		}
		for _, w := range wants {
			if !strings.Contains(msg, w) {
				t.Fatalf("%q lacks %q", msg, w)
			}
		}
		if cfg.Password != "" && strings.Contains(msg, cfg.Password) {
			t.Fatalf("the password is in %q", msg)
		}
	}

	t.Run("a plain server with starttls off works", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		line, err := mail.Probe(ctx, srv.MailConfig())
		if err != nil {
			t.Fatal(err)
		}
		want := "mail: SMTP " + srv.Addr() + " works (connected, EHLO, no TLS (mail.starttls is false), sender authsvc@example.com accepted)"
		if line != want {
			t.Fatalf("got  %q\nwant %q", line, want)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("the probe sent %d messages", n)
		}
	})
	t.Run("a server without STARTTLS says what to change", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		cfg := srv.MailConfig()
		cfg.StartTLS = true
		probeFails(t, cfg, "STARTTLS", "mail: SMTP "+srv.Addr()+": STARTTLS failed: the server does not offer STARTTLS",
			"set mail.starttls: false (MAIL_STARTTLS=False)")
	})
	t.Run("STARTTLS and AUTH work", func(t *testing.T) {
		serverTLS, roots := mailtest.SelfSignedTLS(t)
		srv := mailtest.Start(t, mailtest.Options{TLSConfig: serverTLS, Username: "mailer", Password: "s3cret-pass"})
		cfg := srv.MailConfig()
		cfg.StartTLS, cfg.TLSConfig = true, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		line, err := mail.Probe(ctx, cfg)
		if err != nil || !strings.Contains(line, "works (connected, EHLO, STARTTLS, AUTH as mailer, sender") {
			t.Fatalf("got %q %v", line, err)
		}
	})
	t.Run("a wrong password is an AUTH failure", func(t *testing.T) {
		serverTLS, roots := mailtest.SelfSignedTLS(t)
		srv := mailtest.Start(t, mailtest.Options{TLSConfig: serverTLS, Username: "mailer", Password: "s3cret-pass"})
		cfg := srv.MailConfig()
		cfg.Password = "wrong-pass-123"
		cfg.StartTLS, cfg.TLSConfig = true, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		probeFails(t, cfg, "AUTH", "check mail.username (mailer) and mail.password")
	})
	t.Run("a server that wants a login, and none configured", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{Username: "mailer", Password: "s3cret-pass", AllowInsecureAuth: true})
		cfg := srv.MailConfig()
		cfg.Username, cfg.Password = "", ""
		probeFails(t, cfg, "MAIL FROM", "set mail.username and mail.password")
	})
	t.Run("an untrusted certificate", func(t *testing.T) {
		serverTLS, _ := mailtest.SelfSignedTLS(t)
		srv := mailtest.Start(t, mailtest.Options{TLSConfig: serverTLS})
		cfg := srv.MailConfig()
		cfg.StartTLS = true
		probeFails(t, cfg, "STARTTLS", "certificate")
	})
	t.Run("implicit TLS against a plain server", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		cfg := srv.MailConfig()
		cfg.SSLTLS = true
		probeFails(t, cfg, "TLS handshake", "MAIL_SSL_TLS=False")
	})
	t.Run("nothing listening", func(t *testing.T) {
		cfg := mailtest.Start(t, mailtest.Options{}).MailConfig()
		host, port, _ := net.SplitHostPort(testkit.FreeAddr(t))
		cfg.Host = host
		cfg.Port, _ = strconv.Atoi(port)
		probeFails(t, cfg, "connect", "check mail.host (MAIL_SERVER) and mail.port (MAIL_PORT)")
	})
}
