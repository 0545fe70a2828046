// Package mail sends authsvc's email: it renders outbox rows from templates
// (package templates, overridable from mail.templates_dir), hands them to a
// driver (SMTP, with messages built by github.com/wneessen/go-mail, or the
// log), and runs the
// outbox worker that `serve` starts. Requests never wait on email: the use
// cases only write outbox rows.
package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
	gomail "github.com/wneessen/go-mail"
)

// Drivers.
const (
	DriverLog  = "log"  // write each message to the log (development)
	DriverSMTP = "smtp" // send through an SMTP server
)

// Timeouts of an SMTP session when Config leaves them zero. They are not
// settings; every setting (host, port, from, …) comes from the
// configuration, whose defaults are config.Defaults.
const (
	DefaultTimeout     = 10 * time.Second // SMTP dial and per-command timeout
	DefaultSendTimeout = 30 * time.Second // one whole SMTP session
)

// Config is the mail.* configuration.
type Config struct {
	Driver   string // DriverLog (default) or DriverSMTP
	Host     string // mail.host (MAIL_SERVER)
	Port     int    // mail.port, default 587
	Username string // SMTP AUTH when set
	Password string
	From     string // default noreply@localhost
	SSLTLS   bool   // implicit TLS (usually port 465); wins over StartTLS
	StartTLS bool   // STARTTLS, mandatory: the send fails if the server does not offer it
	// Production makes the log driver write the recipient, the template and
	// the outbox id only: no subject, body, link or token (environment:
	// production).
	Production bool
	// TLSConfig replaces the TLS settings (e.g. RootCAs in tests). ServerName
	// defaults to Host.
	TLSConfig *tls.Config
	// Timeout is the SMTP dial and per-command timeout, default 10s;
	// SendTimeout bounds one whole send, default 30s.
	Timeout, SendTimeout time.Duration
}

// Sender delivers rendered messages. Send returns an EINVALID error when
// the message can never be sent (e.g. a malformed address); other errors are
// worth retrying.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// NewSender returns the driver cfg.Driver names. The log driver warns once
// that messages, reset links included, go to the log; in production it logs
// only the recipient, the template and the outbox id.
func NewSender(cfg Config, log zerolog.Logger) (Sender, error) {
	switch strings.ToLower(cfg.Driver) {
	case "", DriverLog:
		if cfg.Production {
			log.Warn().Msg("mail.driver is log in production: no email is delivered; the log shows recipient, template and outbox id only")
		} else {
			log.Warn().Msg("mail.driver is log: emails, password-reset links included, are written to the log; use smtp in production")
		}
		return &logSender{log: log, redact: cfg.Production}, nil
	case DriverSMTP:
		return newSMTPSender(cfg, log)
	default:
		return nil, fmt.Errorf("mail.driver: unknown driver %q (use log or smtp)", cfg.Driver)
	}
}

// logSender writes each message to the log at info level.
type logSender struct {
	log    zerolog.Logger
	redact bool // production: recipient, template and outbox id only
}

// Send logs m: recipient, template, outbox id and — outside production —
// the subject and the text part.
func (s *logSender) Send(_ context.Context, m *Message) error {
	ev := s.log.Info().Str("mail_driver", DriverLog).Str("to", m.To).Str("template", m.Kind).Int64("outbox_id", m.OutboxID)
	if !s.redact {
		ev = ev.Str("subject", m.Subject).Str("text", m.Text).Int("html_bytes", len(m.HTML))
	}
	ev.Msg("email")
	return nil
}

// smtpSender sends one message per connection through the session the SMTP
// check uses; go-mail builds the message.
type smtpSender struct {
	cfg      Config
	log      zerolog.Logger
	warnOnce sync.Once
}

func newSMTPSender(cfg Config, log zerolog.Logger) (*smtpSender, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("mail.host is required for the smtp driver")
	}
	cfg = withTimeouts(cfg)
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail.port: %d is not a TCP port (1-65535)", cfg.Port)
	}
	if err := gomail.NewMsg().From(cfg.From); err != nil {
		return nil, fmt.Errorf("mail.from: %w", err)
	}
	if _, err := netmail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("mail.from: %w", err)
	}
	return &smtpSender{cfg: cfg, log: log}, nil
}

// Send delivers m as multipart/alternative (text/plain, text/html) in one
// SMTP session bounded by the send timeout.
func (s *smtpSender) Send(ctx context.Context, m *Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	to, err := netmail.ParseAddress(m.To)
	if err == nil {
		err = msg.To(m.To)
	}
	if err != nil {
		return &domain.Error{Code: domain.EINVALID, Reason: "invalid_recipient",
			Message: "invalid recipient address", Err: err}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)

	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	sess, err := openSession(ctx, s.cfg)
	if err != nil {
		return err
	}
	defer sess.close()
	if sess.noAuth {
		s.warnOnce.Do(func() {
			s.log.Warn().Str("mail_host", sess.addr).
				Msg("mail: mail.username is set but the SMTP server offers no AUTH: sending without a login")
		})
	}
	if err := sess.mailFrom(); err != nil {
		return err
	}
	fail := func(step string, err error) error {
		return fmt.Errorf("smtp %s: %s: %w", sess.addr, step, err)
	}
	if err := sess.c.Rcpt("<" + to.Address + ">"); err != nil {
		return fail("RCPT TO", err)
	}
	w, err := sess.c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := msg.WriteTo(w); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("end of DATA", err)
	}
	sess.c.Quit() //nolint:errcheck // the message was accepted
	return nil
}
