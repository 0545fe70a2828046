package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/mail/mailtest"
	"github.com/rs/zerolog"
)

func renderReset(t *testing.T) *mail.Message {
	t.Helper()
	e := sampleEmails()[1]
	m, err := newRenderer(t, "").Render(e.Kind, e.Recipient, e.Data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newSender(t *testing.T, cfg mail.Config) mail.Sender {
	t.Helper()
	s, err := mail.NewSender(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	return s
}

// checkArrived asserts that got is m, delivered as multipart/alternative.
func checkArrived(t *testing.T, got mailtest.Message, m *mail.Message) {
	t.Helper()
	if got.ContentType != "multipart/alternative" {
		t.Errorf("content type %q, want multipart/alternative", got.ContentType)
	}
	if got.Subject != m.Subject || len(got.EnvelopeTo) != 1 || got.EnvelopeTo[0] != m.To {
		t.Errorf("subject %q to %v, want %q to %s", got.Subject, got.EnvelopeTo, m.Subject, m.To)
	}
	if !strings.Contains(got.Text, resetLink) || !strings.Contains(got.Text, "jane_doe") {
		t.Errorf("text/plain part misses the link or username:\n%s", got.Text)
	}
	if !strings.Contains(got.HTML, `href="`+resetLink+`"`) || !strings.Contains(got.HTML, "jane_doe") {
		t.Errorf("text/html part misses the link or username:\n%s", got.HTML)
	}
}

func TestSMTPDriver(t *testing.T) {
	ctx := context.Background()

	t.Run("a message arrives with a text and an HTML part", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		m := renderReset(t)
		if err := newSender(t, srv.MailConfig()).Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		got := srv.WaitFor(t, 1, 5*time.Second)
		checkArrived(t, got[0], m)
		if from := got[0].Header.Get("From"); !strings.Contains(from, "authsvc@example.com") {
			t.Errorf("From %q, want authsvc@example.com", from)
		}
	})

	t.Run("STARTTLS with a self-signed certificate trusted through RootCAs, with AUTH", func(t *testing.T) {
		serverTLS, roots := mailtest.SelfSignedTLS(t)
		srv := mailtest.Start(t, mailtest.Options{TLSConfig: serverTLS, Username: "mailer", Password: "s3cret-pass"})
		cfg := srv.MailConfig()
		cfg.StartTLS, cfg.TLSConfig = true, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		m := renderReset(t)
		if err := newSender(t, cfg).Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		checkArrived(t, srv.WaitFor(t, 1, 5*time.Second)[0], m)
	})

	t.Run("STARTTLS refuses a certificate it does not trust", func(t *testing.T) {
		serverTLS, _ := mailtest.SelfSignedTLS(t)
		srv := mailtest.Start(t, mailtest.Options{TLSConfig: serverTLS})
		cfg := srv.MailConfig()
		cfg.StartTLS = true
		if err := newSender(t, cfg).Send(ctx, renderReset(t)); err == nil {
			t.Fatal("sent over TLS to an untrusted certificate")
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages arrived, want none", n)
		}
	})

	t.Run("STARTTLS is mandatory when set", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		cfg := srv.MailConfig()
		cfg.StartTLS = true
		if err := newSender(t, cfg).Send(ctx, renderReset(t)); err == nil {
			t.Fatal("sent in clear text to a server without STARTTLS")
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages arrived, want none", n)
		}
	})

	t.Run("implicit TLS", func(t *testing.T) {
		serverTLS, roots := mailtest.SelfSignedTLS(t)
		srv := mailtest.Start(t, mailtest.Options{TLSConfig: serverTLS, ImplicitTLS: true})
		cfg := srv.MailConfig()
		cfg.SSLTLS, cfg.StartTLS, cfg.TLSConfig = true, true, &tls.Config{RootCAs: roots}
		m := renderReset(t)
		if err := newSender(t, cfg).Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		checkArrived(t, srv.WaitFor(t, 1, 5*time.Second)[0], m)
	})

	t.Run("wrong credentials fail", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{Username: "mailer", Password: "right-password", AllowInsecureAuth: true})
		cfg := srv.MailConfig()
		cfg.Password = "wrong-password"
		if err := newSender(t, cfg).Send(ctx, renderReset(t)); err == nil {
			t.Fatal("sent with a wrong password")
		}
	})

	t.Run("a malformed recipient is EINVALID", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		m := renderReset(t)
		m.To = "not an address"
		err := newSender(t, srv.MailConfig()).Send(ctx, m)
		if domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("got %v, want EINVALID", err)
		}
	})
}

func TestNewSenderValidates(t *testing.T) {
	bad := map[string]mail.Config{
		"an unknown driver":   {Driver: "carrier-pigeon"},
		"smtp without a host": {Driver: mail.DriverSMTP},
		"a malformed from":    {Driver: mail.DriverSMTP, Host: "localhost", From: "not an address"},
		"a port out of range": {Driver: mail.DriverSMTP, Host: "localhost", Port: 70000},
	}
	for name, cfg := range bad {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, err := mail.NewSender(cfg, zerolog.Nop()); err == nil {
				t.Error("NewSender accepted it")
			}
		})
	}
}

func TestLogDriver(t *testing.T) {
	t.Run("writes recipient, subject and the reset link at info level", func(t *testing.T) {
		var buf bytes.Buffer
		log := zerolog.New(&buf).Level(zerolog.InfoLevel)
		s, err := mail.NewSender(mail.Config{}, log)
		if err != nil {
			t.Fatal(err)
		}
		m := renderReset(t)
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{`"level":"info"`, `"to":"jane@example.com"`, `"subject":"` + m.Subject + `"`, resetLink} {
			if !strings.Contains(out, want) {
				t.Errorf("log misses %s:\n%s", want, out)
			}
		}
	})
}
