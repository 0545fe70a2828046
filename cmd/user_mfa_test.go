package cmd_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func TestUserMFAResetAndShow(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := newMigratedCLI(t, b.URL(t), "AUTHSVC_AUTH_KEY_ENCRYPTION_KEY=cli-test-key-encryption-key-32-bytes-long")
			decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "mia", "--email", "mia@example.com", "--password-stdin", "-o", "json"))
			type showJSON struct {
				MFAEnabled *bool `json:"mfa_enabled"`
			}
			if v := decodeJSON[showJSON](t, c.run("user", "show", "mia", "-o", "json")); v.MFAEnabled == nil || *v.MFAEnabled {
				t.Fatalf("user show before enrolment: %+v", v)
			}
			s := c.startServer()
			tok := decodeJSON[map[string]any](t, c.run("token", "issue", "mia", "-o", "json"))["access_token"].(string)
			secret := s.mustPost(t, "/auth/mfa/totp", tok, "", 200)["secret"].(string)
			code, err := totp.GenerateCode(secret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			s.mustPost(t, "/auth/mfa/totp/verify", tok, `{"code":"`+code+`"}`, 200)
			if v := decodeJSON[showJSON](t, c.run("user", "show", "mia", "-o", "json")); v.MFAEnabled == nil || !*v.MFAEnabled {
				t.Fatalf("user show after enrolment: %+v", v)
			}
			if out := c.run("user", "show", "mia"); !strings.Contains(out.stdout, "mfa:        on") {
				t.Fatalf("user show text: %q", out.stdout)
			}
			if _, status := s.login(t, "mia"); status != http.StatusOK {
				t.Fatalf("login: %d", status)
			}
			if tok, _ := s.login(t, "mia"); tok != "" {
				t.Fatal("an enrolled account got an access token for its password alone")
			}

			if v := decodeJSON[showJSON](t, c.run("user", "mfa", "reset", "mia", "-o", "json")); v.MFAEnabled == nil || *v.MFAEnabled {
				t.Fatalf("user mfa reset: %+v", v)
			}
			if tok, _ := s.login(t, "mia"); tok == "" {
				t.Fatal("no access token for the password after the reset")
			}
			events := decodeJSON[map[string]any](t, c.run("audit", "list", "--event", "mfa.reset", "-o", "json"))["events"].([]any)
			if len(events) != 1 {
				t.Fatalf("mfa.reset events: %v", events)
			}
			expectExit(t, c.run("user", "mfa", "reset", "mia"), 2)
			expectExit(t, c.run("user", "mfa", "reset", "nobody"), 3)
		})
	}
}
