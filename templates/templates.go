// Package templates embeds the built-in email templates. Each email kind has
// a plain-text part (KIND.txt.tmpl, text/template) and an HTML part
// (KIND.html.tmpl, html/template). The text template also defines the
// subject line in a {{define "subject"}} block.
//
// Templates see these fields: .ProductName, .Username, .Recipient, and per
// kind .Link and .ExpiresMinutes (password_reset), .Link and .ExpiresHours
// (verify_email), or .OldEmail, .NewEmail and .Pending (email_changed); mfa_enabled and mfa_disabled use only the common fields. mail.templates_dir may override any file by name.
package templates

import (
	"embed"
	"io/fs"
)

//go:embed *.tmpl
var files embed.FS

// FS returns the embedded template files, flat at the root.
func FS() fs.FS { return files }

// Kinds lists the email kinds that have a template pair.
func Kinds() []string {
	return []string{"welcome", "password_reset", "email_changed", "verify_email", "mfa_enabled", "mfa_disabled"}
}

// TextName returns the file name of kind's plain-text template.
func TextName(kind string) string { return kind + ".txt.tmpl" }

// HTMLName returns the file name of kind's HTML template.
func HTMLName(kind string) string { return kind + ".html.tmpl" }
