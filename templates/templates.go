// Package templates embeds the built-in email templates. Each email kind has
// a plain-text part (KIND.txt.tmpl, text/template) and an HTML part
// (KIND.html.tmpl, html/template). The text template also defines the
// subject line in a {{define "subject"}} block.
//
// Templates see these fields: .ProductName, .Username, .Recipient, and per
// kind .Link and .ExpiresMinutes (password_reset), .Link and .ExpiresHours
// (verify_email), or .OldEmail, .NewEmail and .Pending (email_changed); mfa_enabled and mfa_disabled use only the common fields, api_key_created and api_key_revoked .KeyName (the key's name and prefix). mail.templates_dir may override any file by name.
package templates

import (
	"embed"
	htmltemplate "html/template"
	"io/fs"
	"strings"
)

//go:embed *.tmpl
var files embed.FS

// FS returns the embedded template files, flat at the root.
func FS() fs.FS { return files }

// Kinds lists the email kinds that have a template pair.
func Kinds() []string {
	return []string{"welcome", "password_reset", "email_changed", "verify_email", "mfa_enabled", "mfa_disabled",
		"api_key_created", "api_key_revoked", "passkey_added", "passkey_removed"}
}

// TextName returns the file name of kind's plain-text template.
func TextName(kind string) string { return kind + ".txt.tmpl" }

// HTMLName returns the file name of kind's HTML template.
func HTMLName(kind string) string { return kind + ".html.tmpl" }

// breakEvery is the longest run of a link shown without a break opportunity.
const breakEvery = 24

// HTMLFuncs are the functions the HTML templates may call:
// {{breakable .Link}} (see Breakable).
func HTMLFuncs() htmltemplate.FuncMap {
	return htmltemplate.FuncMap{"breakable": Breakable}
}

// Breakable returns s, HTML-escaped, with <wbr> break opportunities after
// '/', '?', '&' and '=' and at least every 24 characters, so that a long
// link (a reset token is hundreds of characters) wraps inside the message
// instead of running off its side. Templates use it for the visible text
// of a link; the href keeps the plain link.
func Breakable(s string) htmltemplate.HTML {
	var b strings.Builder
	run := 0
	for _, r := range s {
		b.WriteString(htmltemplate.HTMLEscapeString(string(r)))
		run++
		if strings.ContainsRune("/?&=", r) || run >= breakEvery {
			b.WriteString("<wbr>")
			run = 0
		}
	}
	return htmltemplate.HTML(b.String()) //nolint:gosec // every piece is escaped above
}

// The hosted sign-in pages (pkg/pages): html/template files and their one
// stylesheet.
//
//go:embed pages/*.html pages/style.css pages/passkey.js
var pageFiles embed.FS

// Pages returns the hosted pages' templates and stylesheet, flat at the root.
func Pages() fs.FS {
	sub, err := fs.Sub(pageFiles, "pages")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	return sub
}
