package federation_test

import (
	"net/http"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestRoundTrips counts the statements PostgreSQL receives for a returning
// user's sign-in through a provider (federationStatements).
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	m := newMock(t)
	s := newAuthsvc(t, listen(t), storetest.PostgresURL(t), withProviders(mockProvider(m)))
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-count", Email: "count@example.com", EmailVerified: true})
	code, verifier := s.signIn(t, "mock") // the first: the account is made
	if status, raw, _ := s.exchange(t, code, verifier); status != http.StatusOK {
		t.Fatalf("exchange: %d %s", status, raw)
	}
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-count", Email: "count@example.com", EmailVerified: true})
	verifier, challenge := pkce()
	before := s.Queries.Count()
	q := arrive(t, browser(t), s.startURL("mock", appCallback, challenge))
	flow := s.Queries.Count() - before
	before = s.Queries.Count()
	if status, raw, _ := s.exchange(t, q.Get("code"), verifier); status != http.StatusOK {
		t.Fatalf("exchange: %d %s", status, raw)
	}
	exchange := s.Queries.Count() - before
	t.Logf("start + callback: %d statements; exchange: %d", flow, exchange)
	if flow > flowStatements || exchange > exchangeStatements {
		t.Errorf("start + callback sent %d statements (want at most %d), the exchange %d (want at most %d)",
			flow, flowStatements, exchange, exchangeStatements)
	}
}

// The statements of a returning user's sign-in (TestRoundTrips): the start
// stores the flow (1); the callback takes it and stores the code (2); the
// exchange takes the code, records the identity's use (which returns its
// user), reads the user and whether it has a second factor (4), and starts
// the session (a transaction of the session and its audit event: 4).
const (
	flowStatements     = 3
	exchangeStatements = 8
)
