package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail/smtp"
)

// ProbeError says which step of the SMTP check failed, why, and what to
// change. Its Error is one line.
type ProbeError struct {
	Addr   string // host:port
	Step   string // "connect", "TLS handshake", "EHLO", "STARTTLS", "AUTH", "MAIL FROM"
	Err    error
	Advice string
}

// Error implements error.
func (e *ProbeError) Error() string {
	msg := fmt.Sprintf("mail: SMTP %s: %s failed: %v", e.Addr, e.Step, e.Err)
	if e.Advice != "" {
		msg += "; " + e.Advice
	}
	return strings.Join(strings.Fields(msg), " ")
}

// Unwrap returns the cause.
func (e *ProbeError) Unwrap() error { return e.Err }

// Probe checks the SMTP server of cfg once, as a send would use it: connect
// (implicit TLS when SSLTLS), EHLO, STARTTLS when required, AUTH when a user
// name is configured, and MAIL FROM (then RSET: nothing is sent). It returns
// one line saying what works, or a *ProbeError saying what failed and what to
// change. It never includes the password.
func Probe(ctx context.Context, cfg Config) (string, error) {
	cfg = withDefaults(cfg)
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	fail := func(step string, err error, advice string) (string, error) {
		return "", &ProbeError{Addr: addr, Step: step, Err: err, Advice: advice}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.SendTimeout)
	defer cancel()
	conn, err := dial(ctx, cfg, addr)
	if err != nil {
		if cfg.SSLTLS && isTLSMismatch(err) {
			return fail("TLS handshake", err, "the server does not speak implicit TLS on this port: set mail.ssl_tls: false (MAIL_SSL_TLS=False), with port 587 and STARTTLS, or port 1025 and mail.starttls: false for a local catcher")
		}
		return fail("connect", err, "check mail.host (MAIL_SERVER) and mail.port (MAIL_PORT), and that the server runs")
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) }) //nolint:errcheck // best effort
	defer stop()
	conn.SetDeadline(time.Now().Add(cfg.SendTimeout)) //nolint:errcheck // best effort

	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return fail("greeting", err, "the port does not answer like an SMTP server: check mail.port (MAIL_PORT)")
	}
	defer c.Close()
	done := []string{"connected"}
	if cfg.SSLTLS {
		done[0] = "connected with TLS"
	}
	if err := c.Hello(helloName()); err != nil {
		return fail("EHLO", err, "the server refused the greeting")
	}
	done = append(done, "EHLO")
	if !cfg.SSLTLS && cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail("STARTTLS", errors.New("the server does not offer STARTTLS"),
				"set mail.starttls: false (MAIL_STARTTLS=False) for a server without TLS such as a local catcher, or use the server's TLS port")
		}
		if err := c.StartTLS(tlsConfig(cfg)); err != nil {
			return fail("STARTTLS", err, "the TLS handshake failed: the server's certificate must be valid for mail.host")
		}
		done = append(done, "STARTTLS")
	} else if !cfg.SSLTLS {
		done = append(done, "no TLS (mail.starttls is false)")
	}
	if cfg.Username != "" {
		auth, err := pickAuth(c, cfg)
		if err != nil {
			return fail("AUTH", err, "remove mail.username (MAIL_USERNAME) if the server needs no login, or use STARTTLS: many servers offer AUTH only after it")
		}
		if err := c.Auth(auth); err != nil {
			return fail("AUTH", err, fmt.Sprintf("check mail.username (%s) and mail.password (MAIL_PASSWORD)", cfg.Username))
		}
		done = append(done, "AUTH as "+cfg.Username)
	}
	if err := c.Mail(cfg.From); err != nil {
		advice := "check mail.from (MAIL_FROM): the server must accept it as sender"
		if cfg.Username == "" {
			advice += "; if the server wants a login, set mail.username and mail.password"
		}
		return fail("MAIL FROM", err, advice)
	}
	done = append(done, "sender "+cfg.From+" accepted")
	c.Reset() //nolint:errcheck // nothing was sent; QUIT follows
	c.Quit()  //nolint:errcheck // the check is done
	return fmt.Sprintf("mail: SMTP %s works (%s)", addr, strings.Join(done, ", ")), nil
}

func withDefaults(cfg Config) Config {
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.From == "" {
		cfg.From = DefaultFrom
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	return cfg
}

func tlsConfig(cfg Config) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		c = cfg.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = cfg.Host
	}
	return c
}

func dial(ctx context.Context, cfg Config, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: cfg.Timeout}
	if cfg.SSLTLS {
		return (&tls.Dialer{NetDialer: d, Config: tlsConfig(cfg)}).DialContext(ctx, "tcp", addr)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// isTLSMismatch reports a handshake with a server that speaks plain text.
func isTLSMismatch(err error) bool {
	var rec tls.RecordHeaderError
	return errors.As(err, &rec)
}

// pickAuth chooses a mechanism the server offers, strongest first.
func pickAuth(c *smtp.Client, cfg Config) (smtp.Auth, error) {
	ok, list := c.Extension("AUTH")
	if !ok {
		return nil, errors.New("the server offers no AUTH")
	}
	mechs := strings.Fields(strings.ToUpper(list))
	switch {
	case slices.Contains(mechs, "SCRAM-SHA-256"):
		return smtp.ScramSHA256Auth(cfg.Username, cfg.Password), nil
	case slices.Contains(mechs, "PLAIN"):
		return smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host, false), nil
	case slices.Contains(mechs, "LOGIN"):
		return smtp.LoginAuth(cfg.Username, cfg.Password, cfg.Host, false), nil
	case slices.Contains(mechs, "CRAM-MD5"):
		return smtp.CRAMMD5Auth(cfg.Username, cfg.Password), nil
	}
	return nil, fmt.Errorf("no supported AUTH mechanism among %q", list)
}

func helloName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}
