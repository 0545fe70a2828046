package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// verifyTokens returns the tokens of the verification links queued for
// recipient, oldest first.
func (e *env) verifyTokens(recipient string) []string {
	e.t.Helper()
	e.Auth.Wait()
	var rows []string
	err := e.SQL().Select(&rows, e.SQL().Rebind(`SELECT data FROM email_outbox WHERE kind = 'verify_email' AND recipient = ? ORDER BY id`),
		recipient)
	if err != nil {
		e.t.Fatal(err)
	}
	var toks []string
	for _, data := range rows {
		var m map[string]string
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			e.t.Fatal(err)
		}
		if !strings.HasPrefix(m["link"], testFrontendURL+"/verify-email?token=") || m["expires_hours"] != "24" {
			e.t.Fatalf("verification link %q (%s hours)", m["link"], m["expires_hours"])
		}
		link, err := url.Parse(m["link"])
		if err != nil {
			e.t.Fatal(err)
		}
		tok := link.Query().Get("token")
		e.secret(tok)
		toks = append(toks, tok)
	}
	return toks
}

// lastVerifyToken is the newest verification token sent to recipient.
func (e *env) lastVerifyToken(recipient string) string {
	e.t.Helper()
	toks := e.verifyTokens(recipient)
	if len(toks) == 0 {
		e.t.Fatalf("no verification email to %s", recipient)
	}
	return toks[len(toks)-1]
}

func (e *env) verify(tok string) *response {
	e.t.Helper()
	return e.do("POST", "/auth/verify-email", map[string]string{"token": tok}, "")
}

func (e *env) emailVerified(tok string) bool {
	e.t.Helper()
	return e.do("GET", "/auth/me", nil, tok).want(e.t, http.StatusOK, "")["email_verified"] == true
}

func TestEmailVerification(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		t.Run("registration queues a link; it verifies once", func(t *testing.T) {
			if e.emailVerified(alice.Token) {
				t.Fatal("verified before the link was used")
			}
			details := e.do("GET", "/auth/users/alice", nil, alice.Token).want(t, http.StatusOK, "")
			if details["email_verified"] != false {
				t.Fatalf("user details: %v", details)
			}
			tok := e.lastVerifyToken(alice.Email)
			if m := e.verify(tok).want(t, http.StatusOK, ""); m["message"] != "Email verified successfully" {
				t.Fatalf("body %v", m)
			}
			if !e.emailVerified(alice.Token) {
				t.Fatal("not verified after the link")
			}
			e.verify(tok).want(t, http.StatusBadRequest, "invalid_token")
		})
		t.Run("an expired link is 400", func(t *testing.T) {
			bob := e.register("bob")
			tok := e.lastVerifyToken(bob.Email)
			e.Clock.Advance(24*time.Hour + time.Second)
			e.verify(tok).want(t, http.StatusBadRequest, "invalid_token")
		})
		t.Run("other kinds of token are 400; a missing one 422", func(t *testing.T) {
			carol := e.register("carol")
			reset := e.requestReset(carol)
			e.verify(reset).want(t, http.StatusBadRequest, "invalid_token")
			e.verify(carol.Token).want(t, http.StatusBadRequest, "invalid_token")
			e.verify("garbage").want(t, http.StatusBadRequest, "invalid_token")
			e.verify(strings.Repeat("x", 5000)).want(t, http.StatusBadRequest, "invalid_token")
			e.do("POST", "/auth/verify-email", rawJSON(`{}`), "").want(t, http.StatusUnprocessableEntity, "validation_error")
			if e.emailVerified(carol.Token) {
				t.Fatal("a foreign token verified the email")
			}
		})
		t.Run("without require_verified_email an email change is immediate and unverified until its link", func(t *testing.T) {
			dave := e.register("dave")
			e.verify(e.lastVerifyToken(dave.Email)).want(t, http.StatusOK, "")
			m := e.do("PUT", "/auth/users/dave/email", map[string]string{"new_email": "dave2@example.com",
				"current_password": dave.Password}, dave.Token).want(t, http.StatusOK, "")
			if m["email"] != "dave2@example.com" || m["message"] != "Email updated successfully" {
				t.Fatalf("change: %v", m)
			}
			tok := e.token("dave", dave.Password)
			if e.emailVerified(tok) {
				t.Fatal("the new address counts as verified before its link")
			}
			e.verify(e.lastVerifyToken("dave2@example.com")).want(t, http.StatusOK, "")
			if !e.emailVerified(tok) {
				t.Fatal("the new address is not verified after its link")
			}
		})
	})
}

func TestRequireVerifiedEmail(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, b.URL(t), envConfig{authOpts: account.Options{RequireVerifiedEmail: true}})
			erin := e.register("erin")
			t.Run("an unverified login is 403, and works after verifying", func(t *testing.T) {
				e.login("erin", "wrong-password-123").want(t, http.StatusUnauthorized, "invalid_credentials")
				e.login("erin", erin.Password).want(t, http.StatusForbidden, "email_not_verified")
				e.do("GET", "/auth/me", nil, erin.Token).want(t, http.StatusForbidden, "email_not_verified")
				e.verify(e.lastVerifyToken(erin.Email)).want(t, http.StatusOK, "")
				tok := e.token("erin", erin.Password)
				if !e.emailVerified(tok) || e.me(erin.Token) != http.StatusOK {
					t.Fatal("not usable after verifying")
				}
			})
			t.Run("an email change takes effect only when the new address confirms", func(t *testing.T) {
				tok := e.token("erin", erin.Password)
				m := e.do("PUT", "/auth/users/erin/email", map[string]string{"new_email": "erin.new@example.com",
					"current_password": erin.Password}, tok).want(t, http.StatusOK, "")
				if m["email"] != erin.Email || !strings.Contains(m["message"].(string), "Confirmation link sent") {
					t.Fatalf("pending change answered %v", m)
				}
				if n := e.noticesTo(erin.Email); n != 1 {
					t.Fatalf("%d notices to the old address, want 1", n)
				}
				if got := e.do("GET", "/auth/me", nil, tok).want(t, http.StatusOK, "")["email"]; got != erin.Email {
					t.Fatalf("email changed before confirmation: %v", got)
				}
				link := e.lastVerifyToken("erin.new@example.com")
				e.verify(link).want(t, http.StatusOK, "")
				if e.me(tok) != http.StatusUnauthorized {
					t.Fatal("the confirmed change did not end the sessions")
				}
				fresh := e.token("erin", erin.Password)
				me := e.do("GET", "/auth/me", nil, fresh).want(t, http.StatusOK, "")
				if me["email"] != "erin.new@example.com" || me["email_verified"] != true {
					t.Fatalf("after confirmation: %v", me)
				}
				e.verify(link).want(t, http.StatusBadRequest, "invalid_token")
			})
			t.Run("a pending address taken meanwhile is 400 email_taken at confirmation", func(t *testing.T) {
				tok := e.token("erin", erin.Password)
				e.do("PUT", "/auth/users/erin/email", map[string]string{"new_email": "contested@example.com",
					"current_password": erin.Password}, tok).want(t, http.StatusOK, "")
				link := e.lastVerifyToken("contested@example.com")
				e.register("contested") // contested@example.com
				e.verify(link).want(t, http.StatusBadRequest, "email_taken")
				e.do("PUT", "/auth/users/erin/email", map[string]string{"new_email": "contested@example.com",
					"current_password": erin.Password}, tok).want(t, http.StatusBadRequest, "email_taken")
			})
			t.Run("a pending email change dies with a password change or reset", func(t *testing.T) {
				// Someone holding the password asks to move the account to their
				// address; the owner, warned by the notice, changes the password.
				tok := e.token("erin", erin.Password)
				e.do("PUT", "/auth/users/erin/email", map[string]string{"new_email": "takeover@example.com",
					"current_password": erin.Password}, tok).want(t, http.StatusOK, "")
				link := e.lastVerifyToken("takeover@example.com")
				newPassword := "erin-takes-it-Back-9"
				e.secret(newPassword)
				e.do("PUT", "/auth/users/erin/password", map[string]string{"current_password": erin.Password,
					"new_password": newPassword}, tok).want(t, http.StatusOK, "")
				erin.Password = newPassword
				e.verify(link).want(t, http.StatusBadRequest, "invalid_token")
				me := e.do("GET", "/auth/me", nil, e.token("erin", erin.Password)).want(t, http.StatusOK, "")
				if me["email"] != "erin.new@example.com" {
					t.Fatalf("the email moved after the password change: %v", me)
				}
			})
			t.Run("the audit trail has both requests and the confirmed change", func(t *testing.T) {
				var requested, changed int
				if err := e.SQL().Get(&requested, e.SQL().Rebind(`SELECT COUNT(*) FROM audit_events WHERE event = ? AND target_id = ?`),
					"email.change_requested", erin.ID); err != nil {
					t.Fatal(err)
				}
				if err := e.SQL().Get(&changed, e.SQL().Rebind(`SELECT COUNT(*) FROM audit_events WHERE event = ? AND target_id = ?
					AND details LIKE ?`), "email.verified", erin.ID, `%"email_changed":true%`); err != nil {
					t.Fatal(err)
				}
				if requested != 3 || changed != 1 { // the third was ended by a password change
					t.Fatalf("%d change requests (want 3), %d confirmed changes (want 1)", requested, changed)
				}
			})
		})
	}
}

// noticesTo counts email_changed notices queued for recipient.
func (e *env) noticesTo(recipient string) int {
	e.t.Helper()
	var n int
	err := e.SQL().Get(&n, e.SQL().Rebind(`SELECT COUNT(*) FROM email_outbox WHERE kind = 'email_changed' AND recipient = ?`), recipient)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestResendVerification(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		frank := e.register("frank")
		grace := e.register("grace")
		e.verify(e.lastVerifyToken(grace.Email)).want(t, http.StatusOK, "")
		resend := func(email string) (map[string]any, int64) {
			before := e.Queries.Count()
			m := e.do("POST", "/auth/verify-email/resend", map[string]string{"email": email}, "").want(t, http.StatusOK, "")
			return m, e.Queries.Count() - before
		}
		e.Clock.Advance(time.Minute + time.Second) // past the registration link's throttle
		t.Run("the same answer and request path for unknown, verified and unverified addresses", func(t *testing.T) {
			unknown, nUnknown := resend("nobody@example.com")
			verified, nVerified := resend(grace.Email)
			if fmt.Sprint(unknown) != fmt.Sprint(verified) || nUnknown != 1 || nVerified != 1 {
				t.Fatalf("unknown %v (%d statements), verified %v (%d statements)", unknown, nUnknown, verified, nVerified)
			}
			// The unverified account's link is written after the answer: hold
			// its user row locked and the answer still comes.
			release := e.lockUserRow(frank.ID)
			unverified, _ := resend(frank.Email)
			release()
			if fmt.Sprint(unverified) != fmt.Sprint(unknown) {
				t.Fatalf("unverified %v, unknown %v", unverified, unknown)
			}
			if n := len(e.verifyTokens(frank.Email)); n != 2 {
				t.Fatalf("%d links to frank, want 2 (registration, resend)", n)
			}
			if n := len(e.verifyTokens(grace.Email)); n != 1 {
				t.Fatalf("a verified account got %d links, want 1", n)
			}
		})
		t.Run("at most one mail per account per minute", func(t *testing.T) {
			resend(frank.Email)
			if n := len(e.verifyTokens(frank.Email)); n != 2 {
				t.Fatalf("%d links within the minute, want still 2", n)
			}
			e.Clock.Advance(time.Minute + time.Second)
			resend(strings.ToUpper(frank.Email))
			toks := e.verifyTokens(frank.Email)
			if len(toks) != 3 {
				t.Fatalf("%d links after the minute, want 3", len(toks))
			}
			e.verify(toks[2]).want(t, http.StatusOK, "")
		})
		t.Run("a malformed email is 422", func(t *testing.T) {
			e.do("POST", "/auth/verify-email/resend", map[string]string{"email": "nope"}, "").
				want(t, http.StatusUnprocessableEntity, "validation_error")
		})
	})
}

// lockUserRow holds a write lock on the user's row (the whole database on
// SQLite) from another connection until release is called.
func (e *env) lockUserRow(userID int64) (release func()) {
	e.t.Helper()
	tx, err := e.SQL().BeginTxx(context.Background(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	lock := `UPDATE users SET updated_at = updated_at WHERE id = ?`
	if string(e.DB.Dialect) == "postgres" {
		lock = `SELECT id FROM users WHERE id = ? FOR UPDATE`
	}
	if _, err := tx.Exec(tx.Rebind(lock), userID); err != nil {
		e.t.Fatal(err)
	}
	return func() { tx.Rollback() } //nolint:errcheck // only releases the lock
}
