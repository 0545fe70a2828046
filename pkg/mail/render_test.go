package mail_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/mail"
)

const resetLink = "http://localhost:3000/reset-password?token=abc.def-ghi"

// sampleEmails is one valid outbox row per kind.
func sampleEmails() []*domain.OutboundEmail {
	return []*domain.OutboundEmail{
		{Kind: domain.EmailWelcome, Recipient: "jane@example.com",
			Data: map[string]string{domain.EmailKeyUsername: "jane_doe"}},
		{Kind: domain.EmailPasswordReset, Recipient: "jane@example.com",
			Data: map[string]string{domain.EmailKeyUsername: "jane_doe", domain.EmailKeyLink: resetLink, domain.EmailKeyExpiresMinutes: "30"}},
		{Kind: domain.EmailEmailChanged, Recipient: "jane.old@example.com",
			Data: map[string]string{domain.EmailKeyUsername: "jane_doe", domain.EmailKeyOldEmail: "jane.old@example.com",
				domain.EmailKeyNewEmail: "jane.new@example.com"}},
	}
}

func newRenderer(t *testing.T, dir string) *mail.Renderer {
	t.Helper()
	r, err := mail.NewRenderer(dir, "")
	if err != nil {
		t.Fatalf("NewRenderer(%q): %v", dir, err)
	}
	return r
}

func TestRenderEveryKind(t *testing.T) {
	r := newRenderer(t, "")
	for _, e := range sampleEmails() {
		t.Run(e.Kind+" has both parts with the username and product name", func(t *testing.T) {
			m, err := r.Render(e.Kind, e.Recipient, e.Data)
			if err != nil {
				t.Fatal(err)
			}
			if m.To != e.Recipient || m.Subject == "" || strings.Contains(m.Subject, "\n") {
				t.Errorf("to %q subject %q: want the recipient and a one-line subject", m.To, m.Subject)
			}
			for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
				if !strings.Contains(body, "jane_doe") || !strings.Contains(body, "authsvc") {
					t.Errorf("%s part misses the username or product name:\n%s", part, body)
				}
			}
			if !strings.Contains(m.HTML, "<html") {
				t.Errorf("html part is not HTML:\n%s", m.HTML)
			}
		})
	}

	t.Run("password reset carries the link and its lifetime", func(t *testing.T) {
		e := sampleEmails()[1]
		m, err := r.Render(e.Kind, e.Recipient, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, resetLink) || !strings.Contains(m.Text, "30 minutes") {
			t.Errorf("text part misses the link or lifetime:\n%s", m.Text)
		}
		if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(resetLink, "&", "&amp;")+`"`) || !strings.Contains(m.HTML, "30 minutes") {
			t.Errorf("html part misses the link or lifetime:\n%s", m.HTML)
		}
	})

	t.Run("email changed names both addresses", func(t *testing.T) {
		e := sampleEmails()[2]
		m, err := r.Render(e.Kind, e.Recipient, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, "jane.old@example.com") || !strings.Contains(m.Text, "jane.new@example.com") {
			t.Errorf("text part misses an address:\n%s", m.Text)
		}
	})

	t.Run("the product name comes from the renderer or the data", func(t *testing.T) {
		named, err := mail.NewRenderer("", "Acme ID")
		if err != nil {
			t.Fatal(err)
		}
		m, err := named.Render(domain.EmailWelcome, "a@example.com", map[string]string{domain.EmailKeyUsername: "bob"})
		if err != nil || !strings.Contains(m.Subject, "Acme ID") {
			t.Errorf("subject %q, err %v: want the configured product name", m.Subject, err)
		}
		m, err = named.Render(domain.EmailWelcome, "a@example.com",
			map[string]string{domain.EmailKeyUsername: "bob", domain.EmailKeyProductName: "Other"})
		if err != nil || !strings.Contains(m.Subject, "Other") {
			t.Errorf("subject %q, err %v: want the product name from the data", m.Subject, err)
		}
	})

	t.Run("HTML escapes the username", func(t *testing.T) {
		m, err := r.Render(domain.EmailWelcome, "a@example.com", map[string]string{domain.EmailKeyUsername: "<b>x</b>"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.HTML, "<b>x</b>") {
			t.Errorf("html part contains the raw markup:\n%s", m.HTML)
		}
	})
}

func TestRenderRejectsWhatCannotBeSent(t *testing.T) {
	r := newRenderer(t, "")
	tests := []struct {
		name string
		kind string
		data map[string]string
	}{
		{"an unknown kind", "newsletter", map[string]string{domain.EmailKeyUsername: "x"}},
		{"a reset without a link", domain.EmailPasswordReset,
			map[string]string{domain.EmailKeyUsername: "x", domain.EmailKeyExpiresMinutes: "30"}},
		{"a welcome without a username", domain.EmailWelcome, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is EINVALID", func(t *testing.T) {
			_, err := r.Render(tt.kind, "a@example.com", tt.data)
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Errorf("got %v, want an EINVALID error", err)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTemplateOverrides(t *testing.T) {
	t.Run("a file in templates_dir wins over the embedded one", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "welcome.html.tmpl", `<p>Custom hello {{.Username}}</p>`)
		writeFile(t, dir, "welcome.txt.tmpl", `{{define "subject"}}Custom subject for {{.Username}}{{end}}Custom text {{.Username}}`)
		r := newRenderer(t, dir)
		m, err := r.Render(domain.EmailWelcome, "a@example.com", map[string]string{domain.EmailKeyUsername: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		if m.HTML != "<p>Custom hello bob</p>" || m.Text != "Custom text bob" || m.Subject != "Custom subject for bob" {
			t.Errorf("got %+v, want the override's output", m)
		}
		other, err := r.Render(domain.EmailEmailChanged, "a@example.com", sampleEmails()[2].Data)
		if err != nil || !strings.Contains(other.Text, "jane.new@example.com") {
			t.Errorf("a kind without override: %v; want the embedded template", err)
		}
	})

	broken := []struct {
		name, file, content, want string
	}{
		{"a parse error", "password_reset.html.tmpl", `<a href="{{.Link}}">{{if}}</a>`, "password_reset.html.tmpl"},
		{"an unknown field", "welcome.html.tmpl", `<p>{{.Nickname}}</p>`, "welcome.html.tmpl"},
		{"a text part without a subject", "email_changed.txt.tmpl", `Hi {{.Username}}`, "subject"},
	}
	for _, tt := range broken {
		t.Run(tt.name+" fails NewRenderer naming the file", func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tt.file, tt.content)
			_, err := mail.NewRenderer(dir, "")
			if err == nil {
				t.Fatal("NewRenderer accepted a broken override")
			}
			if path := filepath.Join(dir, tt.file); !strings.Contains(fmt.Sprint(err), path) || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Errorf("error %q: want it to name %s and mention %q", err, path, tt.want)
			}
		})
	}

	t.Run("a missing templates_dir is an error", func(t *testing.T) {
		if _, err := mail.NewRenderer(filepath.Join(t.TempDir(), "nope"), ""); err == nil {
			t.Error("NewRenderer accepted a directory that does not exist")
		}
	})
}

// A long reset link wraps in the HTML part; the text part keeps it whole and plain.
func TestLongLinkWraps(t *testing.T) {
	link := "http://localhost:3000/reset-password?token=" + strings.Repeat("eyJhbGciOiJIUzI1NiJ9", 15)
	m, err := newRenderer(t, "").Render(domain.EmailPasswordReset, "jane@example.com",
		map[string]string{domain.EmailKeyUsername: "jane_doe", domain.EmailKeyLink: link, domain.EmailKeyExpiresMinutes: "30"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Fatal("the href must stay the plain link")
	}
	if !strings.Contains(m.HTML, "word-break: break-all") || !strings.Contains(m.HTML, "token=<wbr>eyJhbGciOiJIUzI1NiJ9eyJh<wbr>bGci") {
		t.Fatalf("the visible link cannot wrap:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, "\n"+link+"\n") || strings.Contains(m.Text, "<") {
		t.Fatalf("the text part must hold the link whole on its own line, as plain text:\n%s", m.Text)
	}
}
