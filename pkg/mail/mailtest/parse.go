package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Message is a received message, decoded.
type Message struct {
	EnvelopeFrom string
	EnvelopeTo   []string
	Header       mail.Header
	Subject      string // decoded
	ContentType  string // the top-level media type, e.g. multipart/alternative
	Text         string // the text/plain part, decoded, with \n line ends
	HTML         string // the text/html part, decoded, with \n line ends
	Raw          []byte
}

// Parse decodes a raw RFC 5322 message: headers, the subject, and the first
// text/plain and text/html parts at any depth of multipart nesting.
func Parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, fmt.Errorf("read message: %w", err)
	}
	m := Message{Header: msg.Header, Raw: raw}
	m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, fmt.Errorf("decode subject: %w", err)
	}
	m.ContentType, _, _ = mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err := m.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return Message{}, err
	}
	return m, nil
}

// walk visits one MIME entity, recursing into multiparts.
func (m *Message) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	decoded, err := decodeBody(encoding, body)
	if err != nil {
		return fmt.Errorf("%s part: %w", mediaType, err)
	}
	switch {
	case mediaType == "text/plain" && m.Text == "":
		m.Text = trimCRLF(decoded)
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = trimCRLF(decoded)
	}
	return nil
}

func decodeBody(encoding string, body io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(body))
	case "base64":
		return io.ReadAll(base64.NewDecoder(base64.StdEncoding, body))
	default:
		return io.ReadAll(body)
	}
}
