package mailtest_test

import (
	"net"
	"strings"
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
	if err := c.Mail("a@example.com"); err == nil || !strings.Contains(err.Error(), "501") {
		t.Fatalf("MAIL FROM:a@example.com: got %v, want 501", err)
	}
	if err := c.Mail("<a@example.com>"); err != nil {
		t.Fatalf("MAIL FROM:<a@example.com>: %v", err)
	}
	if err := c.Rcpt("b@example.com"); err == nil || !strings.Contains(err.Error(), "501") {
		t.Fatalf("RCPT TO:b@example.com: got %v, want 501", err)
	}
	if err := c.Rcpt("<b@example.com>"); err != nil {
		t.Fatalf("RCPT TO:<b@example.com>: %v", err)
	}
}
