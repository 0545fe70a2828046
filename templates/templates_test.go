package templates_test

import (
	"html"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	"testing"
	texttemplate "text/template"

	"github.com/authsvc/authsvc/templates"
)

func TestEveryKindHasBothParts(t *testing.T) {
	for _, kind := range templates.Kinds() {
		t.Run(kind, func(t *testing.T) {
			text, err := fs.ReadFile(templates.FS(), templates.TextName(kind))
			if err != nil {
				t.Fatalf("text part: %v", err)
			}
			tt, err := texttemplate.New(kind).Parse(string(text))
			if err != nil {
				t.Fatalf("parse text part: %v", err)
			}
			if tt.Lookup("subject") == nil {
				t.Errorf("%s defines no \"subject\" block", templates.TextName(kind))
			}
			html, err := fs.ReadFile(templates.FS(), templates.HTMLName(kind))
			if err != nil {
				t.Fatalf("html part: %v", err)
			}
			if _, err := htmltemplate.New(kind).Funcs(templates.HTMLFuncs()).Parse(string(html)); err != nil {
				t.Fatalf("parse html part: %v", err)
			}
		})
	}
}

func TestNoStrayFiles(t *testing.T) {
	want := map[string]bool{}
	for _, kind := range templates.Kinds() {
		want[templates.TextName(kind)], want[templates.HTMLName(kind)] = true, true
	}
	entries, err := fs.ReadDir(templates.FS(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("embedded file %s belongs to no kind", e.Name())
		}
	}
	if len(entries) != len(want) {
		t.Errorf("got %d embedded files, want %d", len(entries), len(want))
	}
}

func TestBreakable(t *testing.T) {
	link := "http://localhost:3000/reset-password?token=" + strings.Repeat("abcdefgh", 10) + "&x=<y>"
	got := string(templates.Breakable(link))
	if strings.ReplaceAll(got, "<wbr>", "") != htmltemplate.HTMLEscapeString(link) {
		t.Fatalf("the text changed: %s", got)
	}
	for _, run := range strings.Split(got, "<wbr>") {
		if len([]rune(html.UnescapeString(run))) > 24 {
			t.Fatalf("a run of %d characters cannot wrap: %q", len(run), run)
		}
	}
	if !strings.Contains(got, "&lt;y&gt;") {
		t.Fatalf("not escaped: %s", got)
	}
}
