package cmd_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

type sessionJSON struct {
	ID        string `json:"id"`
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
}

func TestUserSessionsAndLogout(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := newMigratedCLI(t, b.URL(t))
			decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "dora", "--email", "dora@example.com", "--password-stdin", "-o", "json"))
			first := decodeJSON[map[string]any](t, c.run("token", "issue", "dora", "-o", "json"))["access_token"].(string)
			second := decodeJSON[map[string]any](t, c.run("token", "issue", "dora", "-o", "json"))["access_token"].(string)

			out := c.run("user", "sessions", "dora", "-o", "json")
			for _, s := range decodeJSON[[]map[string]any](t, out) { // the API's fields but "current"
				if keys := slices.Sorted(maps.Keys(s)); !slices.Equal(keys, []string{"client_ip", "created_at",
					"expires_at", "id", "refreshed_at", "user_agent"}) {
					t.Fatalf("session fields %v", keys)
				}
			}
			sessions := decodeJSON[[]sessionJSON](t, out)
			if len(sessions) != 2 || sessions[0].UserAgent != "authsvc-cli" || sessions[0].ID == sessions[1].ID {
				t.Fatalf("sessions = %+v, want two CLI sessions", sessions)
			}
			s := c.startServer()
			for _, tok := range []string{first, second} {
				if code, body := s.authGet(t, "/auth/me", tok); code != 200 {
					t.Fatalf("a CLI token before logout: %d %s", code, body)
				}
			}
			ended := decodeJSON[map[string]any](t, c.run("user", "logout", "dora", "-o", "json"))
			if ended["sessions_ended"] != float64(2) {
				t.Fatalf("user logout = %v", ended)
			}
			for _, tok := range []string{first, second} {
				if code, _ := s.authGet(t, "/auth/me", tok); code != 401 {
					t.Fatalf("a token after user logout: %d, want 401", code)
				}
			}
			if left := decodeJSON[[]sessionJSON](t, c.run("user", "sessions", "dora", "-o", "json")); len(left) != 0 {
				t.Fatalf("sessions after logout: %+v", left)
			}
			expectExit(t, c.run("user", "sessions", "nobody"), 3)
			expectExit(t, c.run("user", "logout", "nobody"), 3)
		})
	}
}

func TestUserVerifiedFlagAndVerifyCommand(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := newMigratedCLI(t, b.URL(t), "AUTHSVC_AUTH_REQUIRE_VERIFIED_EMAIL=true")
			type verifiedJSON struct {
				Username      string `json:"username"`
				EmailVerified bool   `json:"email_verified"`
			}
			known := decodeJSON[verifiedJSON](t, c.runStdin(testPassword, "user", "create", "vera", "--email", "vera@example.com",
				"--verified", "--password-stdin", "-o", "json"))
			fresh := decodeJSON[verifiedJSON](t, c.runStdin(testPassword, "user", "create", "nova", "--email", "nova@example.com",
				"--password-stdin", "-o", "json"))
			if !known.EmailVerified || fresh.EmailVerified {
				t.Fatalf("--verified: %+v; without: %+v", known, fresh)
			}
			novaToken := decodeJSON[map[string]any](t, c.run("token", "issue", "nova", "-o", "json"))["access_token"].(string)
			s := c.startServer()
			if code, body := s.authGet(t, "/auth/me", novaToken); code != 403 {
				t.Fatalf("unverified account with require_verified_email: %d %s", code, body)
			}
			if v := decodeJSON[verifiedJSON](t, c.run("user", "verify", "nova", "-o", "json")); !v.EmailVerified {
				t.Fatalf("user verify: %+v", v)
			}
			if code, body := s.authGet(t, "/auth/me", novaToken); code != 200 {
				t.Fatalf("after user verify: %d %s", code, body)
			}
			expectExit(t, c.run("user", "verify", "nobody"), 3)
		})
	}
}

func TestAuditListCommand(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := newMigratedCLI(t, b.URL(t))
			decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "ada", "--email", "ada@example.com", "--password-stdin", "-o", "json"))
			decodeJSON[userJSON](t, c.run("user", "promote", "ada", "-o", "json"))
			type page struct {
				Events []struct {
					ID       int64          `json:"id"`
					Event    string         `json:"event"`
					TargetID int64          `json:"target_id"`
					Details  map[string]any `json:"details"`
				} `json:"events"`
				NextCursor *string `json:"next_cursor"`
			}
			decodeJSON[map[string]any](t, c.run("token", "issue", "ada", "--ttl", "5m", "-o", "json"))
			all := decodeJSON[page](t, c.run("audit", "list", "--user", "ada", "-o", "json"))
			if len(all.Events) != 3 || all.Events[0].Event != "token.issued" || all.Events[1].Event != "user.promoted" ||
				all.Events[2].Event != "user.registered" || all.Events[1].Details["via"] != "cli" ||
				all.Events[0].Details["session_id"] == nil || all.NextCursor != nil {
				t.Fatalf("audit list = %+v", all)
			}
			first := decodeJSON[page](t, c.run("audit", "list", "--limit", "1", "-o", "json"))
			if len(first.Events) != 1 || first.NextCursor == nil {
				t.Fatalf("first page = %+v", first)
			}
			second := decodeJSON[page](t, c.run("audit", "list", "--limit", "1", "--cursor", *first.NextCursor, "-o", "json"))
			if len(second.Events) != 1 || second.Events[0].ID >= first.Events[0].ID {
				t.Fatalf("second page = %+v", second)
			}
			only := decodeJSON[page](t, c.run("audit", "list", "--event", "user.registered", "--since", "2000-01-01T00:00:00Z", "-o", "json"))
			if len(only.Events) != 1 {
				t.Fatalf("--event = %+v", only)
			}
			expectExit(t, c.run("audit", "list", "--since", "yesterday"), 2)
		})
	}
}
