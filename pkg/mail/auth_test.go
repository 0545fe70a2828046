package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/authsvc/authsvc/pkg/mail/mailtest"
	"github.com/rs/zerolog"
)

// TestCheckAndSenderAgree runs the SMTP check and a real send with the same
// settings against strict servers, with and without credentials, with and
// without TLS: whenever the check passes, the send delivers, and whenever
// the check fails, the send fails too.
func TestCheckAndSenderAgree(t *testing.T) {
	serverTLS, roots := mailtest.SelfSignedTLS(t)
	type server struct {
		name string
		opts mailtest.Options
	}
	servers := []server{
		// A catcher (Mailpit): no AUTH offered, every message accepted.
		{"a catcher without AUTH", mailtest.Options{}},
		{"a catcher with STARTTLS and no AUTH", mailtest.Options{TLSConfig: serverTLS}},
		// A submission server: AUTH only after STARTTLS, a login required.
		{"a server that wants a login after STARTTLS", mailtest.Options{TLSConfig: serverTLS, Username: "mailer", Password: "s3cret-pass"}},
	}
	for _, srvCase := range servers {
		for _, withTLS := range []bool{false, true} {
			for _, withCreds := range []bool{false, true} {
				name := srvCase.name + ", client TLS " + map[bool]string{false: "off", true: "on"}[withTLS] +
					", credentials " + map[bool]string{false: "unset", true: "set"}[withCreds]
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					srv := mailtest.Start(t, srvCase.opts)
					cfg := srv.MailConfig()
					cfg.Username, cfg.Password = "", ""
					if withCreds {
						cfg.Username, cfg.Password = "mailer", "s3cret-pass"
					}
					if withTLS {
						cfg.StartTLS, cfg.TLSConfig = true, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
					}
					offersTLS := srvCase.opts.TLSConfig != nil
					wantsLogin := srvCase.opts.Username != ""
					wantOK := (!withTLS || offersTLS) && (!wantsLogin || withTLS && withCreds)

					line, probeErr := mail.Probe(context.Background(), cfg)
					var logs bytes.Buffer
					sender, err := mail.NewSender(cfg, zerolog.New(&logs))
					if err != nil {
						t.Fatal(err)
					}
					m := renderReset(t)
					sendErr := sender.Send(context.Background(), m)
					if (probeErr == nil) != wantOK || (sendErr == nil) != wantOK {
						t.Fatalf("check: %q %v; send: %v; want success %v", line, probeErr, sendErr, wantOK)
					}
					if !wantOK {
						if n := len(srv.Messages()); n != 0 {
							t.Fatalf("%d messages arrived, want none", n)
						}
						return
					}
					checkArrived(t, srv.WaitFor(t, 1, 5*time.Second)[0], m)
					noAuth := withCreds && !wantsLogin
					if strings.Contains(line, "no AUTH offered") != noAuth {
						t.Errorf("check line %q: want it to say no AUTH was offered: %v", line, noAuth)
					}
					if err := sender.Send(context.Background(), m); err != nil {
						t.Fatal(err)
					}
					if n := strings.Count(logs.String(), "offers no AUTH"); n != map[bool]int{false: 0, true: 1}[noAuth] {
						t.Errorf("%d warnings about the missing AUTH over two sends:\n%s", n, logs.String())
					}
					if strings.Contains(logs.String(), "s3cret-pass") {
						t.Errorf("the password is in the log:\n%s", logs.String())
					}
				})
			}
		}
	}
}

func TestProbeAdviceWhenTheLoginNeedsTLS(t *testing.T) {
	serverTLS, _ := mailtest.SelfSignedTLS(t)
	srv := mailtest.Start(t, mailtest.Options{TLSConfig: serverTLS, Username: "mailer", Password: "s3cret-pass"})
	_, err := mail.Probe(context.Background(), srv.MailConfig())
	var pe *mail.ProbeError
	if !errors.As(err, &pe) || pe.Step != "MAIL FROM" || !strings.Contains(pe.Advice, "set mail.starttls: true") {
		t.Fatalf("got %v, want a MAIL FROM failure that advises STARTTLS", err)
	}
}
