package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/templates"
)

// DefaultProductName is the product name templates show unless configured.
const DefaultProductName = "authsvc"

// Message is one rendered email, ready for a Sender.
type Message struct {
	To       string
	Kind     string // the template (outbox kind) it was rendered from
	OutboxID int64  // the outbox row it came from; 0 when not from the outbox
	Subject  string
	Text     string // the text/plain part
	HTML     string // the text/html part
}

// TemplateData is what the templates see. Fields a kind does not use are empty.
type TemplateData struct {
	ProductName    string
	Recipient      string
	Username       string
	Link           string // password_reset
	ExpiresMinutes string // password_reset
	OldEmail       string // email_changed
	NewEmail       string // email_changed
	KeyName        string // api_key_created, api_key_revoked: the key's name and prefix; passkey_added, passkey_removed: the passkey's name
	Pending        bool   // email_changed: the new address has yet to confirm
	ExpiresHours   string // verify_email
}

// requiredKeys lists, per kind, the OutboundEmail.Data keys a message needs.
func requiredKeys(kind string) ([]string, bool) {
	switch kind {
	case domain.EmailWelcome:
		return []string{domain.EmailKeyUsername}, true
	case domain.EmailPasswordReset:
		return []string{domain.EmailKeyUsername, domain.EmailKeyLink, domain.EmailKeyExpiresMinutes}, true
	case domain.EmailEmailChanged:
		return []string{domain.EmailKeyUsername, domain.EmailKeyOldEmail, domain.EmailKeyNewEmail}, true
	case domain.EmailMFAEnabled, domain.EmailMFADisabled:
		return []string{domain.EmailKeyUsername}, true
	case domain.EmailAPIKeyCreated, domain.EmailAPIKeyRevoked, domain.EmailPasskeyAdded, domain.EmailPasskeyRemoved:
		return []string{domain.EmailKeyUsername, domain.EmailKeyAPIKeyName}, true
	case domain.EmailVerify:
		return []string{domain.EmailKeyUsername, domain.EmailKeyLink, domain.EmailKeyExpiresHours}, true
	}
	return nil, false
}

// kindTemplates is one kind's pair: the text template (which also defines
// "subject") and the HTML template.
type kindTemplates struct {
	text     *texttemplate.Template
	html     *htmltemplate.Template
	textFrom string // where each came from, for error messages
	htmlFrom string
}

// Renderer turns outbox rows into messages. It is safe for concurrent use.
type Renderer struct {
	productName string
	kinds       map[string]kindTemplates
}

// NewRenderer parses the built-in templates, each overridden by a file of the
// same name in templatesDir when templatesDir is not empty, and renders every
// one with sample data, so that a broken override fails here, at startup,
// naming the file. productName defaults to DefaultProductName.
func NewRenderer(templatesDir, productName string) (*Renderer, error) {
	if productName == "" {
		productName = DefaultProductName
	}
	if templatesDir != "" {
		info, err := os.Stat(templatesDir)
		if err != nil {
			return nil, fmt.Errorf("mail.templates_dir: %w", err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("mail.templates_dir: %s is not a directory", templatesDir)
		}
	}
	r := &Renderer{productName: productName, kinds: map[string]kindTemplates{}}
	for _, kind := range templates.Kinds() {
		kt, err := loadKind(templatesDir, kind)
		if err != nil {
			return nil, err
		}
		r.kinds[kind] = kt
	}
	for _, kind := range templates.Kinds() {
		if _, err := r.render(kind, sampleData(productName)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// loadKind parses one kind's text and HTML templates.
func loadKind(dir, kind string) (kindTemplates, error) {
	textSrc, textName, err := readTemplate(dir, templates.TextName(kind))
	if err != nil {
		return kindTemplates{}, err
	}
	text, err := texttemplate.New(templates.TextName(kind)).Option("missingkey=error").Parse(textSrc)
	if err != nil {
		return kindTemplates{}, fmt.Errorf("mail template %s: %w", textName, err)
	}
	if text.Lookup("subject") == nil {
		return kindTemplates{}, fmt.Errorf(`mail template %s: no {{define "subject"}}...{{end}} block`, textName)
	}
	htmlSrc, htmlName, err := readTemplate(dir, templates.HTMLName(kind))
	if err != nil {
		return kindTemplates{}, err
	}
	html, err := htmltemplate.New(templates.HTMLName(kind)).Option("missingkey=error").
		Funcs(templates.HTMLFuncs()).Parse(htmlSrc)
	if err != nil {
		return kindTemplates{}, fmt.Errorf("mail template %s: %w", htmlName, err)
	}
	return kindTemplates{text: text, html: html, textFrom: textName, htmlFrom: htmlName}, nil
}

// readTemplate returns a template's source and where it came from: dir/name
// when that file exists, else the embedded file.
func readTemplate(dir, name string) (src, from string, err error) {
	if dir != "" {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path) //nolint:gosec // mail.templates_dir is the operator's setting; name is one of the built-in template names
		if err == nil {
			return string(b), path, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("mail template %s: %w", path, err)
		}
	}
	b, err := fs.ReadFile(templates.FS(), name)
	if err != nil {
		return "", "", fmt.Errorf("embedded mail template %s: %w", name, err)
	}
	return string(b), "embedded " + name, nil
}

// sampleData is the data every template is tried with at construction.
func sampleData(productName string) TemplateData {
	return TemplateData{ProductName: productName, Recipient: "jane@example.com", Username: "jane",
		Link: "http://localhost:3000/reset-password?token=sample", ExpiresMinutes: "30",
		OldEmail: "jane.old@example.com", NewEmail: "jane@example.com", ExpiresHours: "24", KeyName: "nightly (ask_Hz1x…)"}
}

// Render renders the message of an outbox row. An unknown kind or data
// missing a key the kind needs is an EINVALID error: retrying cannot help.
func (r *Renderer) Render(kind, recipient string, data map[string]string) (*Message, error) {
	keys, ok := requiredKeys(kind)
	if !ok || r.kinds[kind].text == nil {
		return nil, &domain.Error{Code: domain.EINVALID, Reason: "unknown_email_kind",
			Message: fmt.Sprintf("unknown email kind %q", kind)}
	}
	for _, k := range keys {
		if data[k] == "" {
			return nil, &domain.Error{Code: domain.EINVALID, Reason: "invalid_email_data",
				Message: fmt.Sprintf("%s email data misses %q", kind, k)}
		}
	}
	td := TemplateData{ProductName: r.productName, Recipient: recipient, Username: data[domain.EmailKeyUsername],
		Link: data[domain.EmailKeyLink], ExpiresMinutes: data[domain.EmailKeyExpiresMinutes],
		OldEmail: data[domain.EmailKeyOldEmail], NewEmail: data[domain.EmailKeyNewEmail],
		Pending: data[domain.EmailKeyPending] == "true", ExpiresHours: data[domain.EmailKeyExpiresHours],
		KeyName: data[domain.EmailKeyAPIKeyName]}
	if p := data[domain.EmailKeyProductName]; p != "" {
		td.ProductName = p
	}
	msg, err := r.render(kind, td)
	if err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Reason: "email_render_failed", Message: err.Error(), Err: err}
	}
	msg.To, msg.Kind = recipient, kind
	return msg, nil
}

// render executes one kind's templates.
func (r *Renderer) render(kind string, td TemplateData) (*Message, error) {
	kt := r.kinds[kind]
	var subject, text, html bytes.Buffer
	if err := kt.text.ExecuteTemplate(&subject, "subject", td); err != nil {
		return nil, fmt.Errorf("mail template %s (subject): %w", kt.textFrom, err)
	}
	if err := kt.text.Execute(&text, td); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", kt.textFrom, err)
	}
	if err := kt.html.Execute(&html, td); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", kt.htmlFrom, err)
	}
	// One line, however the template is laid out: no header injection.
	subj := strings.Join(strings.Fields(subject.String()), " ")
	if subj == "" {
		return nil, fmt.Errorf("mail template %s: the subject is empty", kt.textFrom)
	}
	return &Message{Subject: subj, Text: strings.TrimLeft(text.String(), "\r\n"), HTML: html.String()}, nil
}
