package mailtest

import (
	"time"

	"github.com/authsvc/authsvc/pkg/mail"
)

// MailConfig returns a smtp-driver configuration that sends to s without TLS,
// with short timeouts. Tests that start s with TLS set StartTLS or SSLTLS and
// TLSConfig themselves.
func (s *Server) MailConfig() mail.Config {
	return mail.Config{Driver: mail.DriverSMTP, Host: s.Host, Port: s.Port, From: "authsvc@example.com",
		Username: s.opts.Username, Password: s.opts.Password,
		Timeout: 5 * time.Second, SendTimeout: 10 * time.Second}
}
