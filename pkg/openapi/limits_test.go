package openapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/authsvc"
	"github.com/getkin/kin-openapi/openapi3"
)

// TestDocumentStatesTheLimits keeps the document's schemas and prose in step
// with the constants that decide each limit (pkg/authsvc/limits.go).
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
	wantInt("NewPassword minLength", pw.MinLength, authsvc.MinPasswordBytes)
	wantInt("NewPassword maxLength", maxLen(pw), authsvc.MaxPasswordBytes)
	reg := schema("RegisterRequest")
	wantInt("username minLength", prop(reg, "username").MinLength, authsvc.MinUsernameLen)
	wantInt("username maxLength", maxLen(prop(reg, "username")), authsvc.MaxUsernameLen)
	if p := prop(reg, "username").Pattern; !strings.Contains(p, fmt.Sprintf("{%d,%d}", authsvc.MinUsernameLen, authsvc.MaxUsernameLen)) {
		t.Errorf("username pattern %q does not state %d–%d", p, authsvc.MinUsernameLen, authsvc.MaxUsernameLen)
	}
	wantInt("email maxLength", maxLen(prop(reg, "email")), authsvc.MaxEmailLen)
	if m := schema("Amount").Max; m == nil || *m != float64(authsvc.MaxAmount/100) {
		t.Errorf("Amount maximum %v, the code %d", m, authsvc.MaxAmount/100)
	}
	for _, name := range []string{"HoldRequest", "CaptureRequest", "CreditUseRequest", "CreditAddRequest"} {
		s := schema(name)
		wantInt(name+" reference_id maxLength", maxLen(prop(s, "reference_id")), authsvc.MaxReferenceLen)
		wantInt(name+" description maxLength", maxLen(prop(s, "description")), authsvc.MaxDescriptionLen)
	}
	if m := prop(schema("HoldRequest"), "expires_in").Max; m == nil || *m != authsvc.MaxHoldTTL.Seconds() {
		t.Errorf("expires_in maximum %v, the code %v", m, authsvc.MaxHoldTTL.Seconds())
	}

	text := string(YAML())
	for _, phrase := range []string{
		fmt.Sprintf("username: %d–%d characters", authsvc.MinUsernameLen, authsvc.MaxUsernameLen),
		fmt.Sprintf("at most %d characters", authsvc.MaxEmailLen),
		fmt.Sprintf("password: %d–%d **bytes**", authsvc.MinPasswordBytes, authsvc.MaxPasswordBytes),
		fmt.Sprintf("Passwords over %d bytes are refused (422)", authsvc.MaxPasswordBytes),
		fmt.Sprintf("default %d)", authsvc.DefaultFailedLoginLimit),
	} {
		if !strings.Contains(text, phrase) {
			t.Errorf("the document does not say %q", phrase)
		}
	}
}
