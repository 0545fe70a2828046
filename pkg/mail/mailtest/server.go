// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) inside
// a test process and records what it receives, parsed into its MIME parts, so
// that tests can drive the mail worker end to end.
package mailtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a Server; the zero value is a plain server on a free
// port of 127.0.0.1 that accepts every message without authentication.
// Like real servers, it answers 501 to a MAIL FROM or RCPT TO path without
// angle brackets, and offers AUTH only over TLS unless AllowInsecureAuth.
type Options struct {
	// Addr to listen on; default "127.0.0.1:0".
	Addr string
	// TLSConfig enables STARTTLS (or implicit TLS with ImplicitTLS).
	TLSConfig   *tls.Config
	ImplicitTLS bool
	// Username and Password, when set, make AUTH PLAIN mandatory.
	Username, Password string
	// AllowInsecureAuth offers AUTH on a connection without TLS.
	AllowInsecureAuth bool
	// Delay is how long the server takes over each message before it
	// answers the end of DATA (a slow mail server).
	Delay time.Duration
}

// Server is a recording SMTP server. Its methods are safe for concurrent use.
type Server struct {
	// Host and Port are where the server listens.
	Host string
	Port int

	opts    Options
	srv     *smtp.Server
	mu      sync.Mutex
	msgs    []Message
	reject  int // answer 451 to this many more messages
	changed chan struct{}
}

// Start starts a server and stops it in t.Cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		t.Fatalf("mailtest: listen %s: %v", opts.Addr, err)
	}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, opts.TLSConfig)
	}
	ln = strictListener{ln}
	s := &Server{opts: opts, changed: make(chan struct{})}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "mailtest.local"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.AllowInsecureAuth = opts.AllowInsecureAuth
	s.srv.MaxMessageBytes = 1 << 20
	if !opts.ImplicitTLS {
		s.srv.TLSConfig = opts.TLSConfig
	}
	done := make(chan struct{})
	var closing atomic.Bool
	go func() {
		defer close(done)
		if err := s.srv.Serve(ln); err != nil && !closing.Load() && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("mailtest: serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		closing.Store(true)
		s.srv.Close()
		// Close may run before Serve has registered the listener.
		ln.Close()
		<-done
	})
	return s
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// RejectNext makes the server answer "451 try again later" to the next n
// messages, as a server in trouble would.
func (s *Server) RejectNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = n
}

// Messages returns the messages accepted so far, in arrival order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until at least n messages have been accepted, failing t
// after timeout, and returns them.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("mailtest: %d messages arrived within %s, want %d", got, timeout, n)
		}
	}
}

// accept records a message, or rejects it while RejectNext is in force.
func (s *Server) accept(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reject > 0 {
		s.reject--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// session is one SMTP connection's transaction state.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != se.s.opts.Username || password != se.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: fmt.Sprintf("unparsable message: %v", err)}
	}
	m.EnvelopeFrom, m.EnvelopeTo = se.from, append([]string(nil), se.to...)
	time.Sleep(se.s.opts.Delay) // a slow server: the client waits for the reply
	return se.s.accept(m)
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// trimCRLF is used by Parse to compare bodies without line-ending noise.
func trimCRLF(b []byte) string { return string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))) }
