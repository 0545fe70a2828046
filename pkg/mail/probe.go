package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
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
// (implicit TLS when SSLTLS), EHLO, STARTTLS when required, AUTH as pickAuth
// decides, and MAIL FROM (then RSET: nothing is sent). It returns one line
// saying what works, or a *ProbeError saying what failed and what to change.
// It never includes the password.
func Probe(ctx context.Context, cfg Config) (string, error) {
	cfg = withTimeouts(cfg)
	ctx, cancel := context.WithTimeout(ctx, cfg.SendTimeout)
	defer cancel()
	s, err := openSession(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer s.close()
	if err := s.mailFrom(); err != nil {
		return "", err
	}
	s.done = append(s.done, "sender "+cfg.From+" accepted")
	s.c.Reset() //nolint:errcheck // nothing was sent; QUIT follows
	s.c.Quit()  //nolint:errcheck // the check is done
	return fmt.Sprintf("mail: SMTP %s works (%s)", s.addr, strings.Join(s.done, ", ")), nil
}

// session is one SMTP connection past connect, EHLO, STARTTLS and AUTH: the
// steps the check and the sender share, so that they cannot disagree.
type session struct {
	cfg    Config
	addr   string
	conn   net.Conn
	c      *smtp.Client
	stop   func() bool
	done   []string // the steps that worked, for Probe's line
	noAuth bool     // mail.username is set but the server offers no AUTH
}

// openSession connects to cfg's server and runs the steps before MAIL FROM
// within ctx. Its error is a *ProbeError.
func openSession(ctx context.Context, cfg Config) (*session, error) {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	fail := func(step string, err error, advice string) (*session, error) {
		return nil, &ProbeError{Addr: addr, Step: step, Err: err, Advice: advice}
	}
	conn, err := dial(ctx, cfg, addr)
	if err != nil {
		if cfg.SSLTLS && isTLSMismatch(err) {
			return fail("TLS handshake", err, "the server does not speak implicit TLS on this port: set mail.ssl_tls: false (MAIL_SSL_TLS=False), with port 587 and STARTTLS, or port 1025 and mail.starttls: false for a local catcher")
		}
		return fail("connect", err, "check mail.host (MAIL_SERVER) and mail.port (MAIL_PORT), and that the server runs")
	}
	s := &session{cfg: cfg, addr: addr, conn: conn}
	s.stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) }) //nolint:errcheck // best effort
	conn.SetDeadline(time.Now().Add(cfg.SendTimeout))                        //nolint:errcheck // best effort
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	if s.c, err = smtp.NewClient(conn, cfg.Host); err != nil {
		return fail("greeting", err, "the port does not answer like an SMTP server: check mail.port (MAIL_PORT)")
	}
	s.done = []string{"connected"}
	if cfg.SSLTLS {
		s.done[0] = "connected with TLS"
	}
	if err := s.c.Hello(helloName()); err != nil {
		return fail("EHLO", err, "the server refused the greeting")
	}
	s.done = append(s.done, "EHLO")
	if !cfg.SSLTLS && cfg.StartTLS {
		if ok, _ := s.c.Extension("STARTTLS"); !ok {
			return fail("STARTTLS", errors.New("the server does not offer STARTTLS"),
				"set mail.starttls: false (MAIL_STARTTLS=False) for a server without TLS such as a local catcher, or use the server's TLS port")
		}
		if err := s.c.StartTLS(tlsConfig(cfg)); err != nil {
			return fail("STARTTLS", err, "the TLS handshake failed: the server's certificate must be valid for mail.host")
		}
		s.done = append(s.done, "STARTTLS")
	} else if !cfg.SSLTLS {
		s.done = append(s.done, "no TLS (mail.starttls is false)")
	}
	if cfg.Username != "" {
		auth, err := pickAuth(s.c, cfg)
		switch {
		case err != nil:
			return fail("AUTH", err, "remove mail.username (MAIL_USERNAME) if the server needs no login")
		case auth == nil:
			s.noAuth = true
			s.done = append(s.done, "no AUTH offered, so no login (mail.username is not used)")
		default:
			if err := s.c.Auth(auth); err != nil {
				return fail("AUTH", err, fmt.Sprintf("check mail.username (%s) and mail.password (MAIL_PASSWORD)", cfg.Username))
			}
			s.done = append(s.done, "AUTH as "+cfg.Username)
		}
	}
	ok = true
	return s, nil
}

// mailFrom sends MAIL FROM with the configured sender as an RFC 5321 path.
func (s *session) mailFrom() error {
	fail := func(err error, advice string) error {
		return &ProbeError{Addr: s.addr, Step: "MAIL FROM", Err: err, Advice: advice}
	}
	from, err := netmail.ParseAddress(s.cfg.From)
	if err != nil {
		return fail(err, "mail.from (MAIL_FROM) is not an email address")
	}
	if err := s.c.Mail("<" + from.Address + ">"); err != nil {
		advice := "check mail.from (MAIL_FROM): the server must accept it as sender"
		switch {
		case s.cfg.Username == "":
			advice += "; if the server wants a login, set mail.username and mail.password"
		case s.noAuth && !s.cfg.SSLTLS && !s.cfg.StartTLS:
			advice += "; the server offers no AUTH without TLS: set mail.starttls: true (MAIL_STARTTLS=True) if it wants a login"
		}
		return fail(err, advice)
	}
	return nil
}

// close ends the connection without QUIT.
func (s *session) close() {
	s.stop()
	if s.c != nil {
		s.c.Close() //nolint:errcheck // closing
	}
	s.conn.Close() //nolint:errcheck // closing
}

// withTimeouts fills the zero timeouts of cfg.
func withTimeouts(cfg Config) Config {
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

// pickAuth is the one decision on SMTP authentication, for the check and
// the sender alike, made only when mail.username is set: the strongest
// mechanism the server offers; nil (no login) when it offers no AUTH at all,
// as local catchers such as Mailpit do and the sender logs once; an error
// when it offers only mechanisms authsvc does not speak.
func pickAuth(c *smtp.Client, cfg Config) (smtp.Auth, error) {
	ok, list := c.Extension("AUTH")
	if !ok {
		return nil, nil
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
