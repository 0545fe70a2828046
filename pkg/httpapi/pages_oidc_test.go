package httpapi_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/pages"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/authsvc/authsvc/templates"
)

// fakeProvider stands in for the OpenID Connect provider (domain.OIDCLogin)
// so that these tests of the pages run without one: requests in memory,
// consent remembered per user and client, a redirect to the client's
// registered URI on Complete and Fail (which ends the request, as the real
// provider does: pkg/oidcprovider's TestDeniedRequestEnds).
type fakeProvider struct {
	mu        sync.Mutex
	requests  map[string]*domain.OIDCAuthRequest
	consented map[int64]bool
	completed map[string]domain.BrowserSignIn
}

const fakeRedirect = "https://rp.example/callback"

func (f *fakeProvider) AuthRequest(_ context.Context, id string) (*domain.OIDCAuthRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ar, ok := f.requests[id]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return ar, nil
}

func (f *fakeProvider) ConsentNeeded(_ context.Context, ar *domain.OIDCAuthRequest, userID int64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !ar.FirstParty && (!f.consented[userID] || slices.Contains(ar.Prompt, "consent")), nil
}

func (f *fakeProvider) GrantConsent(_ context.Context, _ *domain.OIDCAuthRequest, userID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.consented[userID] = true
	return nil
}

func (f *fakeProvider) Complete(_ context.Context, id string, s domain.BrowserSignIn) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.requests[id]; !ok {
		return "", domain.ErrNotFound
	}
	delete(f.requests, id)
	f.completed[id] = s
	return fakeRedirect + "?code=c-" + id, nil
}

func (f *fakeProvider) Fail(_ context.Context, id, code, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.requests[id]; !ok {
		return "", domain.ErrNotFound
	}
	delete(f.requests, id)
	return fakeRedirect + "?error=" + code, nil
}

func (f *fakeProvider) Consents(context.Context, int64) ([]domain.OIDCConsent, error) {
	return nil, nil
}

func (f *fakeProvider) RevokeConsent(context.Context, int64, string) error {
	return domain.ErrOIDCNoConsent
}

func (f *fakeProvider) add(id string, prompt []string, maxAge *time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[id] = &domain.OIDCAuthRequest{ID: id, ClientID: "rp", ClientName: "Relying Party",
		Scopes: []string{"openid", "email"}, Prompt: prompt, MaxAge: maxAge}
}

// pagesWithProvider serves e's pages with the fake provider (the rest of
// the stack as serve builds it) and returns a browser pointed at them.
func pagesWithProvider(t *testing.T, e *env) (*browser, *fakeProvider) {
	f := &fakeProvider{requests: map[string]*domain.OIDCAuthRequest{}, consented: map[int64]bool{},
		completed: map[string]domain.BrowserSignIn{}}
	p, err := pages.New(pages.Deps{Auth: e.Auth, OIDC: f, Templates: templates.Pages(), Clock: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	b := newBrowser(t, e)
	b.base = srv.URL
	return b, f
}

// wantRedirect: a GET is redirected to want; a form post answers with the
// continue page, which moves on to want by itself (a redirect answering a
// form would be held to the CSP's form-action 'self').
func wantRedirect(t *testing.T, r *response, want string) {
	t.Helper()
	if r.Status == http.StatusOK && strings.Contains(string(r.Body), `<meta http-equiv="refresh" content="0;url=`+html.EscapeString(want)+`">`) {
		return
	}
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
		t.Fatalf("got %d to %q, want 303 to %q: %s", r.Status, r.Header.Get("Location"), want, r.Body)
	}
}

func TestPagesOIDCFlow(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnv(t, be.URL(t), envConfig{})
			u := e.register("rpuser")
			b, f := pagesWithProvider(t, e)

			// prompt=none without a session: login_required to the client.
			f.add("r0", []string{"none"}, nil)
			wantRedirect(t, b.get("/signin?request=r0"), fakeRedirect+"?error=login_required")
			// An unknown request is an error page, never a redirect.
			wantStatus(t, b.get("/signin?request=nosuch"), http.StatusNotFound, "unknown, expired or already used")

			// Sign in for r1 → consent → allow → the provider's callback.
			f.add("r1", nil, nil)
			wantStatus(t, b.get("/signin?request=r1"), http.StatusOK, `name="request" value="r1"`)
			r := b.post("/signin", url.Values{"username": {u.Name}, "password": {u.Password}, "request": {"r1"}})
			wantStatus(t, r, http.StatusOK, "Relying Party")
			wantRedirect(t, b.post("/consent", url.Values{"request": {"r1"}, "decision": {"allow"}}), fakeRedirect+"?code=c-r1")
			s := f.completed["r1"]
			if s.UserID != u.ID || s.SessionID == "" || !slices.Equal(s.AMR, []string{"pwd"}) || s.AuthTime.IsZero() {
				t.Fatalf("completed with %+v", s)
			}

			// Silent SSO: a second request in the same browser goes straight to Complete.
			f.add("r2", nil, nil)
			wantRedirect(t, b.get("/signin?request=r2"), fakeRedirect+"?code=c-r2")
			if f.completed["r2"].SessionID != s.SessionID {
				t.Fatal("silent SSO used another session")
			}
			// prompt=none with a session: silent too.
			f.add("r3", []string{"none"}, nil)
			wantRedirect(t, b.get("/signin?request=r3"), fakeRedirect+"?code=c-r3")
			// prompt=login and a max_age the session is older than: the form again.
			f.add("r4", []string{"login"}, nil)
			wantStatus(t, b.get("/signin?request=r4"), http.StatusOK, `action="/signin"`)
			e.Clock.Advance(2 * time.Minute)
			ma := time.Minute
			f.add("r5", nil, &ma)
			wantStatus(t, b.get("/signin?request=r5"), http.StatusOK, `action="/signin"`)
			// prompt=consent with a session: consent page; deny → access_denied.
			f.add("r6", []string{"consent"}, nil)
			wantStatus(t, b.get("/signin?request=r6"), http.StatusOK, "Relying Party")
			wantRedirect(t, b.post("/consent", url.Values{"request": {"r6"}, "decision": {"deny"}}), fakeRedirect+"?error=access_denied")
			// Sign out ends the session: prompt=none is login_required again.
			b.post("/signout", url.Values{})
			f.add("r7", []string{"none"}, nil)
			wantRedirect(t, b.get("/signin?request=r7"), fakeRedirect+"?error=login_required")
			if e.me(b.session()) == http.StatusOK {
				t.Fatal("session alive after sign out")
			}
		})
	}
}

func TestPagesWithoutProvider(t *testing.T) {
	e := newEnv(t, storetest.SQLiteURL(t), envConfig{})
	b := newBrowser(t, e)
	r := b.get("/signin?request=anything")
	wantStatus(t, r, http.StatusNotFound, "not enabled")
	if strings.Contains(r.Header.Get("Location"), "http") {
		t.Fatal("redirected")
	}
}
