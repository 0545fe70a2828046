package cmd_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestUserIdentities: `user show` lists a user's linked identities, and
// `user identities unlink` removes one, never the last way to sign in.
func TestUserIdentities(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			c := newMigratedCLI(t, url)
			alice := decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "alice", "--email", "alice@example.com", "--password-stdin", "-o", "json"))
			db := storetest.SQLFor(t, url)
			now := time.Now().UTC()
			link := func(userID int64, provider, subject string) int64 {
				t.Helper()
				var id int64
				if err := db.Get(&id, db.Rebind(`INSERT INTO user_identities (user_id, provider, subject, email, email_verified, created_at, last_used_at)
					VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), userID, provider, subject, "x@example.com", true, now, now); err != nil {
					t.Fatal(err)
				}
				return id
			}
			google := link(alice.ID, "google", "g-123")
			link(alice.ID, "github", "583231")
			type identity struct {
				ID       int64  `json:"id"`
				Provider string `json:"provider"`
				Subject  string `json:"subject"`
			}
			type showJSON struct {
				Identities []identity `json:"identities"`
			}
			if v := decodeJSON[showJSON](t, c.run("user", "show", "alice", "-o", "json")); len(v.Identities) != 2 ||
				v.Identities[0] != (identity{google, "google", "g-123"}) {
				t.Fatalf("user show: %+v", v)
			}
			if out := c.run("user", "show", "alice"); !strings.Contains(out.stdout, "identities: "+strconv.FormatInt(google, 10)+" google g-123") {
				t.Fatalf("user show text: %q", out.stdout)
			}
			if v := decodeJSON[showJSON](t, c.run("user", "identities", "unlink", "alice", strconv.FormatInt(google, 10), "-o", "json")); len(v.Identities) != 1 {
				t.Fatalf("after unlink: %+v", v)
			}
			expectExit(t, c.run("user", "identities", "unlink", "alice", strconv.FormatInt(google, 10)), 3)
			expectExit(t, c.run("user", "identities", "unlink", "alice", "zero"), 2)

			// An account with no password and one identity keeps it.
			var bob int64
			if err := db.Get(&bob, db.Rebind(`INSERT INTO users (username, email, password_hash, is_admin, token_version, created_at, updated_at)
				VALUES ('bob', 'bob@example.com', '', FALSE, 1, ?, ?) RETURNING id`), now, now); err != nil {
				t.Fatal(err)
			}
			only := link(bob, "google", "g-bob")
			expectExit(t, c.run("user", "identities", "unlink", "bob", strconv.FormatInt(only, 10)), 4)
			events := decodeJSON[map[string]any](t, c.run("audit", "list", "--event", "identity.unlinked", "-o", "json"))["events"].([]any)
			if len(events) != 1 {
				t.Fatalf("identity.unlinked events: %v", events)
			}
		})
	}
}
