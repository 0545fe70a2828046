package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"

	"github.com/authsvc/authsvc/pkg/account"
)

// The performance contract of a login: at most two database round trips,
// whatever the outcome. The first counts the attempt and reads the user
// (before the password compare, so that concurrent guesses cannot pass the
// limit), the second writes the outcome: the session and its audit event, a
// second factor's challenge, or the failure's audit event. A username over
// its limit costs one. On PostgreSQL each is one statement outside any
// explicit transaction; SQLite runs each as one transaction, in process.
func TestLoginRoundTrips(t *testing.T) {
	const limit = 3
	forEachMFABackend(t, envConfig{authOpts: account.Options{FailedLoginLimit: limit}}, func(t *testing.T, e *env) {
		alice, bob := e.register("alice"), e.register("bob")
		e.enrol(bob)
		postgres := e.DB.Dialect == "postgres"
		e.token(alice.Name, alice.Password) // the first login prepares its statements on a connection
		cases := []struct {
			name, user, password string
			status               int
			code                 string
			trips                int64
		}{
			{"success", alice.Name, alice.Password, http.StatusOK, "", 2},
			{"second factor asked", bob.Name, bob.Password, http.StatusOK, "", 2},
			{"wrong password", alice.Name, "wrong-Xq7!zz", http.StatusUnauthorized, "invalid_credentials", 2},
			{"unknown user", "nobody", "wrong-Xq7!zz", http.StatusUnauthorized, "invalid_credentials", 2},
			{"wrong password again", alice.Name, "wrong-Xq7!zz", http.StatusUnauthorized, "invalid_credentials", 2},
			{"the last attempt (login.failed and login.limited)", alice.Name, "wrong-Xq7!zz", http.StatusUnauthorized, "invalid_credentials", 2},
			{"over the limit", alice.Name, alice.Password, http.StatusTooManyRequests, "", 1},
		}
		for _, c := range cases {
			statements, transactions := e.Queries.Count(), e.Queries.Transactions()
			e.login(c.user, c.password).want(t, c.status, c.code)
			statements, transactions = e.Queries.Count()-statements, e.Queries.Transactions()-transactions
			if postgres {
				if statements != c.trips || transactions != 0 {
					t.Errorf("%s: %d statements in %d explicit transactions, want %d statements and none",
						c.name, statements, transactions, c.trips)
				}
			} else if transactions != c.trips {
				t.Errorf("%s: %d transactions, want %d", c.name, transactions, c.trips)
			}
		}
	})
}

// A ledger change is one statement on PostgreSQL, outside any explicit
// transaction: the balance change, the ledger row and its audit event
// (the bare debit transaction takes four: BEGIN, UPDATE, INSERT, COMMIT).
// Through the API, plus the request's one auth query. SQLite: one
// transaction, in process.
func TestLedgerRoundTrips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		ctx := context.Background()
		add := func() { // ApplyCredit, with its audit event as the API writes it
			ev := &domain.AuditEvent{Event: domain.AuditCreditsAdded, TargetID: alice.ID, Details: map[string]any{"amount": "10"}}
			if _, _, err := e.DB.ApplyCredit(domain.WithAudit(ctx, ev), &domain.LedgerEntry{UserID: alice.ID,
				Amount: 1000, Type: domain.CreditAdded}); err != nil {
				t.Fatal(err)
			}
		}
		use := func() { // group commit (on by default) sends an uncontended debit straight to ApplyCredit
			e.do("POST", "/credits/use", map[string]any{"amount": 1}, alice.Token).want(t, http.StatusOK, "")
		}
		add()
		use() // the first calls prepare their statements on a connection
		for _, c := range []struct {
			name       string
			do         func()
			statements int64
		}{{"ApplyCredit (add)", add, 1}, {"POST /credits/use", use, 2}} {
			statements, transactions := e.Queries.Count(), e.Queries.Transactions()
			c.do()
			statements, transactions = e.Queries.Count()-statements, e.Queries.Transactions()-transactions
			if e.DB.Dialect == "postgres" {
				if statements != c.statements || transactions != 0 {
					t.Errorf("%s: %d statements in %d explicit transactions, want %d and none",
						c.name, statements, transactions, c.statements)
				}
			} else if transactions != 1 {
				t.Errorf("%s: %d transactions, want 1", c.name, transactions)
			}
		}
	})
}
