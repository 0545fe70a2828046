package mailtest_test

import (
	"errors"
	"net"
	"net/textproto"
	"testing"

	"github.com/authsvc/authsvc/pkg/mail/mailtest"
	"github.com/wneessen/go-mail/smtp"
)

// TestStrictPaths: like Mailpit and Postfix, the server refuses a MAIL FROM
// or RCPT TO path without angle brackets and accepts the bracketed form.
func TestStrictPaths(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@example.com"); code(err) != 501 {
		t.Fatalf("MAIL FROM:a@example.com: got %v, want 501", err)
	}
	if err := c.Mail("<a@example.com>"); err != nil {
		t.Fatalf("MAIL FROM:<a@example.com>: %v", err)
	}
	if err := c.Rcpt("b@example.com"); code(err) != 501 {
		t.Fatalf("RCPT TO:b@example.com: got %v, want 501", err)
	}
	if err := c.Rcpt("<b@example.com>"); err != nil {
		t.Fatalf("RCPT TO:<b@example.com>: %v", err)
	}
}

// code is the SMTP reply code of err, 0 when it is not a reply.
func code(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}
