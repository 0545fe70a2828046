package mailtest

import (
	"bytes"
	"net"
)

// strictListener hands out connections that refuse what real servers refuse
// and go-smtp lets through: a MAIL FROM or RCPT TO whose path has no angle
// brackets (RFC 5321 section 4.1.2: "MAIL FROM:<a@b>", never "MAIL FROM:a@b").
type strictListener struct{ net.Listener }

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &strictConn{Conn: c}, nil
}

// strictConn rewrites a malformed MAIL or RCPT command line into one that
// go-smtp answers with 501, as Mailpit and Postfix do. It reads command
// lines only: the message between DATA and "." passes unchanged, and after
// STARTTLS the bytes are TLS records, so it steps aside (with ImplicitTLS it
// sits above TLS and sees every command).
type strictConn struct {
	net.Conn
	pending []byte // bytes read but not yet a whole line
	out     []byte // checked bytes not yet returned
	inData  bool
	tls     bool // STARTTLS was sent: pass everything through
}

func (c *strictConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.tls && len(c.pending) == 0 {
			return c.Conn.Read(p)
		}
		buf := make([]byte, 4096)
		n, err := c.Conn.Read(buf)
		c.pending = append(c.pending, buf[:n]...)
		c.checkLines()
		if err != nil && len(c.out) == 0 {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// checkLines moves every complete line of pending to out, rewritten when it
// breaks the path syntax.
func (c *strictConn) checkLines() {
	for !c.tls {
		i := bytes.Index(c.pending, []byte("\r\n"))
		if i < 0 {
			return
		}
		line := c.pending[:i+2]
		c.pending = c.pending[i+2:]
		cmd := bytes.ToUpper(bytes.TrimSpace(line))
		switch {
		case c.inData:
			c.inData = string(cmd) != "."
		case string(cmd) == "DATA":
			c.inData = true
		case string(cmd) == "STARTTLS":
			c.tls = true
		case malformedPath(cmd, "MAIL FROM:"):
			line = []byte("MAIL MALFORMED-PATH\r\n")
		case malformedPath(cmd, "RCPT TO:"):
			line = []byte("RCPT MALFORMED-PATH\r\n")
		}
		c.out = append(c.out, line...)
	}
	c.out = append(c.out, c.pending...)
	c.pending = nil
}

// malformedPath reports a cmd that starts with prefix and whose path does not
// start with "<".
func malformedPath(cmd []byte, prefix string) bool {
	rest, ok := bytes.CutPrefix(cmd, []byte(prefix))
	return ok && !bytes.HasPrefix(bytes.TrimSpace(rest), []byte("<"))
}
