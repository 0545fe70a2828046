package openapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/getkin/kin-openapi/openapi3"
)

// TestDocumentStatesTheLimits keeps the document's schemas and prose in step
// with the constants that decide each limit (pkg/domain/limits.go).
func TestDocumentStatesTheLimits(t *testing.T) {
	doc, _ := loadDoc(t)
	schema := func(name string) *openapi3.Schema {
		t.Helper()
		ref, ok := doc.Components.Schemas[name]
		if !ok || ref.Value == nil {
			t.Fatalf("no schema %s", name)
		}
		return ref.Value
	}
	prop := func(s *openapi3.Schema, name string) *openapi3.Schema {
		t.Helper()
		p, ok := s.Properties[name]
		if !ok || p.Value == nil {
			t.Fatalf("no property %s", name)
		}
		return p.Value
	}
	maxLen := func(s *openapi3.Schema) uint64 {
		if s.MaxLength == nil {
			return 0
		}
		return *s.MaxLength
	}
	wantInt := func(what string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: the document says %d, the code %d", what, got, want)
		}
	}

	pw := schema("NewPassword")
	wantInt("NewPassword minLength", pw.MinLength, domain.MinPasswordBytes)
	wantInt("NewPassword maxLength", maxLen(pw), domain.MaxPasswordBytes)
	reg := schema("RegisterRequest")
	wantInt("username minLength", prop(reg, "username").MinLength, domain.MinUsernameLen)
	wantInt("username maxLength", maxLen(prop(reg, "username")), domain.MaxUsernameLen)
	if p := prop(reg, "username").Pattern; !strings.Contains(p, fmt.Sprintf("{%d,%d}", domain.MinUsernameLen, domain.MaxUsernameLen)) {
		t.Errorf("username pattern %q does not state %d–%d", p, domain.MinUsernameLen, domain.MaxUsernameLen)
	}
	wantInt("email maxLength", maxLen(prop(reg, "email")), domain.MaxEmailLen)
	if m := schema("Amount").Max; m == nil || *m != float64(domain.MaxAmount/100) {
		t.Errorf("Amount maximum %v, the code %d", m, domain.MaxAmount/100)
	}
	for _, name := range []string{"HoldRequest", "CaptureRequest", "CreditUseRequest", "CreditAddRequest"} {
		s := schema(name)
		wantInt(name+" reference_id maxLength", maxLen(prop(s, "reference_id")), domain.MaxReferenceLen)
		wantInt(name+" description maxLength", maxLen(prop(s, "description")), domain.MaxDescriptionLen)
	}
	if m := prop(schema("HoldRequest"), "expires_in").Max; m == nil || *m != domain.MaxHoldTTL.Seconds() {
		t.Errorf("expires_in maximum %v, the code %v", m, domain.MaxHoldTTL.Seconds())
	}

	text := string(YAML())
	for _, phrase := range []string{
		fmt.Sprintf("username: %d–%d characters", domain.MinUsernameLen, domain.MaxUsernameLen),
		fmt.Sprintf("at most %d characters", domain.MaxEmailLen),
		fmt.Sprintf("password: %d–%d **bytes**", domain.MinPasswordBytes, domain.MaxPasswordBytes),
		fmt.Sprintf("Passwords over %d bytes are refused (422)", domain.MaxPasswordBytes),
		fmt.Sprintf("default %d)", domain.DefaultFailedLoginLimit),
	} {
		if !strings.Contains(text, phrase) {
			t.Errorf("the document does not say %q", phrase)
		}
	}
}
