package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

type auditEventView struct {
	ID        int64          `json:"id"`
	Event     string         `json:"event"`
	ActorID   int64          `json:"actor_id"`
	TargetID  int64          `json:"target_id"`
	ClientIP  string         `json:"client_ip"`
	UserAgent string         `json:"user_agent"`
	RequestID string         `json:"request_id"`
	Details   map[string]any `json:"details"`
}

type auditPageView struct {
	Events     []auditEventView `json:"events"`
	NextCursor *string          `json:"next_cursor"`
}

// audit reads one page of GET /admin/audit with the admin token.
func (e *env) audit(tok string, q url.Values) auditPageView {
	e.t.Helper()
	r := e.do("GET", "/admin/audit?"+q.Encode(), nil, tok)
	r.want(e.t, http.StatusOK, "")
	var page auditPageView
	if err := json.Unmarshal(r.Body, &page); err != nil {
		e.t.Fatal(err)
	}
	return page
}

func TestAuditTrail(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, b.URL(t), envConfig{authOpts: account.Options{FailedLoginLimit: 3}})
			root := e.admin("root")
			tina := e.register("tina")
			ctx := context.Background()

			// Every kind of event, once, for tina.
			e.verify(e.lastVerifyToken(tina.Email)).want(t, http.StatusOK, "")
			tok := e.token("tina", tina.Password)
			e.login("tina", "a-wrong-password").want(t, http.StatusUnauthorized, "")
			m := e.do("POST", "/auth/refresh", map[string]string{"token": tok}, "").want(t, http.StatusOK, "")
			tok = m["access_token"].(string)
			e.secret(tok)
			pw2 := "Tina-second-Str0ng-pw"
			e.secret(pw2)
			e.do("PUT", "/auth/users/tina/password", map[string]string{"current_password": tina.Password, "new_password": pw2}, tok).
				want(t, http.StatusOK, "")
			tina.Password = pw2
			reset := e.requestReset(tina)
			pw3 := "Tina-third-Str0ng-pw"
			e.secret(pw3)
			e.do("POST", "/auth/reset-password", map[string]string{"token": reset, "new_password": pw3}, "").want(t, http.StatusOK, "")
			tina.Password = pw3
			tok = e.token("tina", tina.Password)
			e.do("PUT", "/auth/users/tina/email", map[string]string{"new_email": "tina2@example.com", "current_password": tina.Password}, tok).
				want(t, http.StatusOK, "")
			a, b2 := e.token("tina", tina.Password), e.token("tina", tina.Password)
			e.do("DELETE", "/auth/sessions/"+sidOf(t, b2), nil, a).want(t, http.StatusOK, "")
			e.do("POST", "/auth/logout?scope=others", nil, a).want(t, http.StatusOK, "")
			e.do("POST", "/credits/add", map[string]any{"amount": 10, "username": "tina", "reference_id": "gift-1"}, root.Token).
				want(t, http.StatusOK, "")
			used := e.do("POST", "/credits/use", map[string]any{"amount": 2.5}, a).want(t, http.StatusOK, "")
			if _, err := e.Auth.SetAdmin(ctx, "tina", true); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Auth.SetAdmin(ctx, "tina", false); err != nil {
				t.Fatal(err)
			}

			t.Run("changes that fail or change nothing leave no event", func(t *testing.T) {
				e.register("taken")
				e.do("PUT", "/auth/users/tina/email", map[string]string{"new_email": "taken@example.com", "current_password": tina.Password}, a).
					want(t, http.StatusBadRequest, "email_taken")
				e.do("POST", "/credits/use", map[string]any{"amount": 1000}, a).want(t, http.StatusBadRequest, "insufficient_credits")
				e.do("POST", "/credits/add", map[string]any{"amount": 10, "username": "tina", "reference_id": "gift-1"}, root.Token).
					want(t, http.StatusOK, "") // an idempotent repeat
				e.requestReset(tina) // throttled: within the minute
			})

			e.do("DELETE", "/auth/users/tina", map[string]string{"password": tina.Password}, a).want(t, http.StatusOK, "")
			lim := e.register("lim")
			for i := range 3 {
				e.login("lim", fmt.Sprintf("wrong-guess-%d", i)).want(t, http.StatusUnauthorized, "")
			}
			e.login("lim", lim.Password).want(t, http.StatusTooManyRequests, "rate_limited")

			t.Run("every event appears once with actor, target and client", func(t *testing.T) {
				all := e.audit(root.Token, url.Values{"user": {fmt.Sprint(tina.ID)}, "limit": {"200"}}).Events
				count := map[string]int{}
				for _, ev := range all {
					if ev.TargetID == tina.ID {
						count[ev.Event]++
					}
				}
				web := func(ev auditEventView) bool {
					return ev.ClientIP == "127.0.0.1" && ev.RequestID != "" && ev.UserAgent != ""
				}
				for _, c := range []struct {
					event string
					want  int
					actor int64
					http  bool
				}{
					{domain.AuditRegistered, 1, tina.ID, true},
					{domain.AuditEmailVerified, 1, tina.ID, true},
					{domain.AuditLoginSucceeded, 4, tina.ID, true},
					{domain.AuditLoginFailed, 1, 0, true},
					{domain.AuditRefreshed, 1, tina.ID, true},
					{domain.AuditPasswordChanged, 1, tina.ID, true},
					{domain.AuditPasswordResetRequest, 1, 0, true},
					{domain.AuditPasswordReset, 1, tina.ID, true},
					{domain.AuditEmailChanged, 1, tina.ID, true},
					{domain.AuditSessionsEnded, 1, tina.ID, true},
					{domain.AuditLogout, 1, tina.ID, true},
					{domain.AuditCreditsAdded, 1, root.ID, true},
					{domain.AuditCreditsUsed, 1, tina.ID, true},
					{domain.AuditPromoted, 1, 0, false},
					{domain.AuditDemoted, 1, 0, false},
					{domain.AuditAccountDeleted, 1, tina.ID, true},
				} {
					if count[c.event] != c.want {
						t.Errorf("%s: %d events, want %d", c.event, count[c.event], c.want)
						continue
					}
					for _, ev := range all {
						if ev.Event != c.event || ev.TargetID != tina.ID {
							continue
						}
						if ev.ActorID != c.actor || web(ev) != c.http {
							t.Errorf("%s: actor %d (want %d), client %q/%q/%q", c.event, ev.ActorID, c.actor, ev.ClientIP, ev.UserAgent, ev.RequestID)
						}
					}
				}
				for _, ev := range all {
					if ev.Event == domain.AuditCreditsUsed && ev.Details["transaction_id"] != used["id"] {
						t.Errorf("credits.used names ledger row %v, want %v", ev.Details["transaction_id"], used["id"])
					}
				}
			})
			t.Run("a login that reaches the limit is recorded once as limited", func(t *testing.T) {
				page := e.audit(root.Token, url.Values{"user": {"lim"}})
				count := map[string]int{}
				for _, ev := range page.Events {
					count[ev.Event]++
				}
				if count[domain.AuditLoginFailed] != 3 || count[domain.AuditLoginLimited] != 1 {
					t.Fatalf("events of lim: %v", count)
				}
			})
			t.Run("a non-admin is 403; a bad filter 422", func(t *testing.T) {
				e.do("GET", "/admin/audit", nil, lim.Token).want(t, http.StatusForbidden, "forbidden")
				e.do("GET", "/admin/audit", nil, "").want(t, http.StatusUnauthorized, "")
				for _, q := range []string{"event=nope", "since=yesterday", "cursor=x", "limit=0", "limit=201", "limit=x"} {
					e.do("GET", "/admin/audit?"+q, nil, root.Token).want(t, http.StatusUnprocessableEntity, "validation_error")
				}
			})
			t.Run("event and time filters", func(t *testing.T) {
				page := e.audit(root.Token, url.Values{"event": {domain.AuditPromoted}})
				if len(page.Events) != 2 { // root's and tina's
					t.Fatalf("%d promotions, want 2", len(page.Events))
				}
				future := e.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
				if n := len(e.audit(root.Token, url.Values{"since": {future}}).Events); n != 0 {
					t.Fatalf("%d events since the future", n)
				}
				if n := len(e.audit(root.Token, url.Values{"until": {future}, "user": {"nobody-at-all"}}).Events); n != 0 {
					t.Fatalf("%d events of an unknown user", n)
				}
			})
			t.Run("user= is a username first: an all-digit one is not read as an id", func(t *testing.T) {
				name := fmt.Sprintf("%03d", root.ID) // a valid username that is also root's id
				digits := e.register(name)
				for _, ev := range e.audit(root.Token, url.Values{"user": {name}, "limit": {"200"}}).Events {
					if ev.ActorID != digits.ID && ev.TargetID != digits.ID {
						t.Fatalf("user=%s returned an event of user %d/%d, not of the account named %s (id %d)",
							name, ev.ActorID, ev.TargetID, name, digits.ID)
					}
				}
				if n := len(e.audit(root.Token, url.Values{"user": {name}}).Events); n == 0 {
					t.Fatalf("no events for the account named %s", name)
				}
			})
			t.Run("paging returns each event once while events are added", func(t *testing.T) {
				before := map[int64]bool{}
				for _, ev := range e.audit(root.Token, url.Values{"limit": {"200"}}).Events {
					before[ev.ID] = true
				}
				seen := map[int64]int{}
				q := url.Values{"limit": {"3"}}
				for pages := 0; ; pages++ {
					if pages > 100 {
						t.Fatal("paging does not end")
					}
					page := e.audit(root.Token, q)
					for _, ev := range page.Events {
						seen[ev.ID]++
					}
					e.login("lim", "yet-another-guess") // a new event between pages
					if page.NextCursor == nil {
						break
					}
					q.Set("cursor", *page.NextCursor)
				}
				for id, n := range seen {
					if n != 1 {
						t.Errorf("event %d seen %d times", id, n)
					}
				}
				for id := range before {
					if seen[id] != 1 {
						t.Errorf("event %d, there before paging, was not returned", id)
					}
				}
			})
			t.Run("events past the retention are pruned", func(t *testing.T) {
				e.Clock.Advance(domain.DefaultAuditRetention + time.Hour)
				e.login("lim", "one-more-guess") // stays: recent
				if err := e.Auth.Purge(ctx); err != nil {
					t.Fatal(err)
				}
				var n int
				if err := e.SQL().Get(&n, `SELECT COUNT(*) FROM audit_events`); err != nil {
					t.Fatal(err)
				}
				if n != 1 {
					t.Fatalf("%d events left, want only the recent one", n)
				}
			})
		})
	}
}

// People type their password into the username field: a failed login for a
// name that is no account's records no name.
func TestAuditNeverRecordsAnUnknownUsername(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		root := e.admin("root")
		typo := "Hunter2-my-pass"
		e.secret(typo)
		e.login(typo, "whatever-it-is-123").want(t, http.StatusUnauthorized, "invalid_credentials")
		page := e.audit(root.Token, url.Values{"event": {domain.AuditLoginFailed}})
		if len(page.Events) != 1 || page.Events[0].TargetID != 0 || page.Events[0].Details["unknown_user"] != true ||
			page.Events[0].Details["username"] != nil {
			t.Fatalf("events = %+v", page.Events)
		}
	})
}
