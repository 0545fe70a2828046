// Package mail sends authsvc's email: it renders outbox rows from templates
// (package templates, overridable from mail.templates_dir), hands them to a
// driver (SMTP through github.com/wneessen/go-mail, or the log), and runs the
// outbox worker that `serve` starts. Requests never wait on email: the use
// cases only write outbox rows.
package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/authsvc"
	"github.com/rs/zerolog"
	gomail "github.com/wneessen/go-mail"
)

// Drivers.
const (
	DriverLog  = "log"  // write each message to the log (development)
	DriverSMTP = "smtp" // send through an SMTP server
)

// Defaults.
const (
	DefaultPort        = 587
	DefaultFrom        = "noreply@localhost"
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
		return newSMTPSender(cfg)
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

// smtpSender sends through go-mail, one connection per message.
type smtpSender struct {
	cfg  Config
	opts []gomail.Option
}

func newSMTPSender(cfg Config) (*smtpSender, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("mail.host is required for the smtp driver")
	}
	cfg = withDefaults(cfg)
	if err := gomail.NewMsg().From(cfg.From); err != nil {
		return nil, fmt.Errorf("mail.from: %w", err)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.Host
	}
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout), gomail.WithTLSConfig(tlsConfig)}
	switch {
	case cfg.SSLTLS:
		opts = append(opts, gomail.WithSSL())
	case cfg.StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	if _, err := gomail.NewClient(cfg.Host, opts...); err != nil {
		return nil, fmt.Errorf("mail: smtp client: %w", err)
	}
	return &smtpSender{cfg: cfg, opts: opts}, nil
}

// Send delivers m as multipart/alternative (text/plain, text/html) in one
// SMTP session bounded by the send timeout.
func (s *smtpSender) Send(ctx context.Context, m *Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return &authsvc.Error{Code: authsvc.EINVALID, Reason: "invalid_recipient",
			Message: "invalid recipient address", Err: err}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)

	client, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}
