package templates_test

import (
	htmltemplate "html/template"
	"io/fs"
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
			if _, err := htmltemplate.New(kind).Parse(string(html)); err != nil {
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
