// Package pages serves the hosted sign-in pages: sign in (password, then
// the second factor for enrolled accounts), consent, the signed-in page and
// sign out, server-rendered with html/template, and the browser session
// cookie behind single sign-on.
package pages

import (
	"context"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Auth is what the pages need of the account use cases: the one login path
// of /auth/login (limits, dummy compare, verified-email and MFA policy,
// audit), its second factor, and the session checks of access tokens.
type Auth interface {
	LoginIdentifier(ctx context.Context, usernameOrEmail, password string) (*domain.AccessToken, error)
	Register(ctx context.Context, r domain.Registration) (*domain.User, *domain.AccessToken, error)
	RequestPasswordReset(ctx context.Context, email string) error
	ResetPassword(ctx context.Context, token, newPassword string) error
	VerifyEmail(ctx context.Context, token string) (*domain.User, error)
	Challenge(ctx context.Context, mfaToken, code, recovery string) (*domain.AccessToken, error)
	Authenticate(ctx context.Context, bearer string) (*domain.Principal, error)
	Refresh(ctx context.Context, tok string) (*domain.AccessToken, error)
	Logout(ctx context.Context, p *domain.Principal, scope string) error
}

// Limiter counts one sign-in attempt of key (the client IP) and reports
// whether it may go on, and when to retry otherwise. A nil Limiter limits
// nothing.
type Limiter func(ctx context.Context, key string) (allowed bool, retryAfter time.Duration)

// Deps are the pages' collaborators.
type Deps struct {
	Auth Auth
	// OIDC finishes OpenID Connect requests; nil serves authsvc's own
	// sign-in only (a ?request= is then an error page).
	OIDC      domain.OIDCLogin
	Templates fs.FS // the page templates (templates.Pages())
	Logger    zerolog.Logger
	// ClientIP returns the client address of r (the server's proxy rule);
	// nil uses the TCP peer.
	ClientIP func(r *http.Request) string
	Limit    Limiter
	Clock    func() time.Time
	// SessionLifetime ends a browser's sign-in this long after the
	// password was typed (oidc.session_lifetime); 0 leaves it to the
	// session's own limits.
	SessionLifetime time.Duration
	// AllowSignUp offers "Create an account" (oidc.allow_sign_up).
	AllowSignUp bool
	// Passkeys offers passkey sign-in and "Add a passkey"; nil: none.
	Passkeys domain.PasskeyService
	// Federation offers a button per upstream identity provider; nil: none.
	Federation domain.FederationService
}

// Pages is the hosted pages' HTTP handler.
type Pages struct {
	deps Deps
	tmpl *template.Template
	mux  *http.ServeMux
	cop  *http.CrossOriginProtection
}

// Paths are the URL paths the pages serve, for mounting them next to the
// JSON API.
var Paths = []string{"/signin", "/signin/", "/signout", "/signup", "/signup/", "/forgot", "/reset-password", "/verify-email",
	"/consent", "/account", "/account/", "/pages/"}

// New parses the templates and builds the handler.
func New(deps Deps) (*Pages, error) {
	t, err := template.ParseFS(deps.Templates, "*.html")
	if err != nil {
		return nil, err
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.ClientIP == nil {
		deps.ClientIP = peerIP
	}
	p := &Pages{deps: deps, tmpl: t, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	p.mux.HandleFunc("GET /signin", p.signinPage)
	p.mux.HandleFunc("POST /signin", p.signin)
	p.mux.HandleFunc("POST /signin/mfa", p.signinMFA)
	p.mux.HandleFunc("POST /consent", p.consent)
	p.mux.HandleFunc("GET /account", p.account)
	p.mux.HandleFunc("GET /signout", p.signoutPage)
	p.mux.HandleFunc("POST /signout", p.signout)
	p.mux.HandleFunc("GET /signup", p.signupPage)
	p.mux.HandleFunc("POST /signup", p.signup)
	p.mux.HandleFunc("GET /forgot", p.forgotPage)
	p.mux.HandleFunc("POST /forgot", p.forgot)
	p.mux.HandleFunc("GET /reset-password", p.resetPage)
	p.mux.HandleFunc("POST /reset-password", p.reset)
	p.mux.HandleFunc("GET /verify-email", p.verifyEmail)
	p.mux.HandleFunc("POST /account/consents/revoke", p.revokeConsent)
	p.mux.HandleFunc("POST /account/identities/link", p.linkIdentity)
	p.mux.HandleFunc("POST /account/identities/unlink", p.unlinkIdentity)
	p.mux.HandleFunc("GET "+linkedPath, p.linkedIdentity)
	p.mux.HandleFunc("POST /signin/passkey", p.signinPasskey)
	p.mux.HandleFunc("POST /signin/provider", p.signinProvider)
	p.mux.HandleFunc("GET "+federatedPath, p.signinFederated)
	p.mux.HandleFunc("POST /signin/mfa/passkey", p.signinMFAPasskey)
	p.mux.HandleFunc("POST /signup/passkey/begin", p.signupPasskeyBegin)
	p.mux.HandleFunc("POST /signup/passkey", p.signupPasskey)
	p.mux.HandleFunc("POST /account/passkeys/begin", p.addPasskeyBegin)
	p.mux.HandleFunc("POST /account/passkeys/finish", p.addPasskeyFinish)
	p.mux.HandleFunc("GET /pages/style.css", p.style)
	p.mux.HandleFunc("GET /pages/passkey.js", p.script)
	return p, nil
}

// ServeHTTP sets the pages' security headers, refuses cross-origin
// unsafe requests (Fetch metadata, then Origin) and serves the page.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if err := p.cop.Check(r); err != nil {
		p.render(w, http.StatusForbidden, "error.html", view{Error: domain.MsgPagesCrossSite})
		return
	}
	if domain.ClientFrom(r.Context()).RequestID == "" { // else serve's httpapi.Tagged attached it, request id included
		r = r.WithContext(domain.WithClient(r.Context(), domain.Client{IP: p.deps.ClientIP(r), UserAgent: r.UserAgent()}))
	}
	p.mux.ServeHTTP(w, r)
}

// csp allows the page's own stylesheet, its one script file (the passkey
// buttons; no inline script), requests and form posts to itself only, and
// no framing.
const csp = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// view is what every template sees.
type view struct {
	CSRF      string
	Request   string // the pending OpenID Connect request id
	Username  string
	MFAToken  string
	Error     string
	Client    string
	Scopes    []string
	User      string
	AuthTime  time.Time
	SessionID string
	ExpiresAt time.Time
	Next      string // where the continue page goes on to
	Title     string
	Notice    string
	Email     string
	Token     string // a reset link's token
	SignUp    bool   // offer "Create an account"
	Consents  []domain.OIDCConsent
	// Passkeys: the passkey buttons are offered; PasskeyList the
	// signed-in user's.
	Passkeys    bool
	PasskeyList []*domain.Passkey
	// Providers are the upstream identity providers' buttons; Identities
	// the signed-in user's linked ones.
	Providers  []domain.ProviderInfo
	Identities []*domain.Identity
	// MFAPasskey: the second step may be a passkey (the login's methods
	// list webauthn).
	MFAPasskey bool
}

func (p *Pages) render(w http.ResponseWriter, status int, name string, v view) {
	v.SignUp, v.Passkeys = p.deps.AllowSignUp, p.deps.Passkeys != nil
	if p.deps.Federation != nil {
		v.Providers = p.deps.Federation.Providers()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := p.tmpl.ExecuteTemplate(w, name, v); err != nil {
		p.deps.Logger.Error().Err(err).Str("template", name).Msg("page render failed")
	}
}

func (p *Pages) style(w http.ResponseWriter, r *http.Request) {
	p.asset(w, r, "style.css", "text/css; charset=utf-8")
}

func (p *Pages) script(w http.ResponseWriter, r *http.Request) {
	p.asset(w, r, "passkey.js", "text/javascript; charset=utf-8")
}

func (p *Pages) asset(w http.ResponseWriter, r *http.Request, name, ctype string) {
	b, err := fs.ReadFile(p.deps.Templates, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
