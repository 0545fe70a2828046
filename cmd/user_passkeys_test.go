package cmd_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestUserPasskeysShowAndDelete stores a passkey directly (the API
// ceremonies are still to come), then lists and deletes it with the CLI.
func TestUserPasskeysShowAndDelete(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			c := newMigratedCLI(t, url)
			type showJSON struct {
				ID       int64 `json:"id"`
				Passkeys []struct {
					ID     int64  `json:"id"`
					Name   string `json:"name"`
					Synced bool   `json:"synced"`
				} `json:"passkeys"`
			}
			mia := decodeJSON[showJSON](t, c.runStdin(testPassword, "user", "create", "mia", "--email", "mia@example.com", "--password-stdin", "-o", "json"))
			decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "ned", "--email", "ned@example.com", "--password-stdin", "-o", "json"))
			if v := decodeJSON[showJSON](t, c.run("user", "show", "mia", "-o", "json")); len(v.Passkeys) != 0 {
				t.Fatalf("passkeys before any: %+v", v)
			}
			db, err := store.Open(url, store.Options{Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			pk := &domain.Passkey{UserID: mia.ID, CredentialID: []byte("cred-1"), PublicKey: []byte{1}, BackupEligible: true, BackupState: true, Name: "Phone"}
			err = db.AddPasskey(context.Background(), pk)
			_ = db.Close()
			if err != nil {
				t.Fatal(err)
			}
			v := decodeJSON[showJSON](t, c.run("user", "show", "mia", "-o", "json"))
			if len(v.Passkeys) != 1 || v.Passkeys[0].ID != pk.ID || v.Passkeys[0].Name != "Phone" || !v.Passkeys[0].Synced {
				t.Fatalf("user show: %+v", v)
			}
			if out := c.run("user", "show", "mia"); !strings.Contains(out.stdout, `passkeys:   `) || !strings.Contains(out.stdout, `"Phone" (synced`) {
				t.Fatalf("user show text: %q", out.stdout)
			}
			expectExit(t, c.run("user", "passkeys", "delete", "ned", strconv.FormatInt(pk.ID, 10)), 3) // another user's passkey
			expectExit(t, c.run("user", "passkeys", "delete", "mia", "x"), 2)
			if v := decodeJSON[showJSON](t, c.run("user", "passkeys", "delete", "mia", strconv.FormatInt(pk.ID, 10), "-o", "json")); len(v.Passkeys) != 0 {
				t.Fatalf("after delete: %+v", v)
			}
			expectExit(t, c.run("user", "passkeys", "delete", "mia", strconv.FormatInt(pk.ID, 10)), 3)
			events := decodeJSON[map[string]any](t, c.run("audit", "list", "--event", "passkey.removed", "-o", "json"))["events"].([]any)
			if len(events) != 1 {
				t.Fatalf("passkey.removed events: %v", events)
			}
		})
	}
}

// TestUserPasskeysDeleteLast: the CLI refuses to delete a passkey-only
// account's last passkey (exit 4) unless --force, which warns and audits
// the force.
func TestUserPasskeysDeleteLast(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			c := newMigratedCLI(t, url)
			type showJSON struct {
				ID          int64 `json:"id"`
				HasPassword *bool `json:"has_password"`
			}
			db, err := store.Open(url, store.Options{Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			u := &domain.User{Username: "pia", Email: "pia@example.com", PasswordHash: domain.NoPassword}
			pk := &domain.Passkey{CredentialID: []byte("cred-pia"), PublicKey: []byte{1}, Name: "Phone"}
			if err = db.CreateUser(ctx, u); err == nil {
				pk.UserID = u.ID
				err = db.AddPasskey(ctx, pk)
			}
			_ = db.Close()
			if err != nil {
				t.Fatal(err)
			}
			if v := decodeJSON[showJSON](t, c.run("user", "show", "pia", "-o", "json")); v.HasPassword == nil || *v.HasPassword {
				t.Fatalf("user show: %+v", v)
			}
			if out := c.run("user", "show", "pia"); !strings.Contains(out.stdout, "password:   none (set one with a password reset)") {
				t.Fatalf("user show text: %q", out.stdout)
			}
			id := strconv.FormatInt(pk.ID, 10)
			r := c.run("user", "passkeys", "delete", "pia", id)
			expectExit(t, r, 4)
			if !strings.Contains(r.stderr, "last way to sign in") {
				t.Fatalf("stderr %q", r.stderr)
			}
			r = c.run("user", "passkeys", "delete", "pia", id, "--force")
			expectExit(t, r, 0)
			if !strings.Contains(r.stderr, "warning: pia has no way to sign in left") {
				t.Fatalf("stderr %q", r.stderr)
			}
			events := decodeJSON[map[string]any](t, c.run("audit", "list", "--event", "passkey.removed", "-o", "json"))["events"].([]any)
			if len(events) != 1 || !strings.Contains(fmt.Sprint(events[0]), "force:true") {
				t.Fatalf("passkey.removed events: %v", events)
			}
		})
	}
}
