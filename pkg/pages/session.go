package pages

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// The cookie names: with the __Host- prefix (Secure, host-only, Path=/)
// everywhere but on a loopback host, where plain http is allowed.
const (
	sessionCookie = "authsvc_session"
	csrfCookie    = "authsvc_csrf"
	hostPrefix    = "__Host-"
)

// secure reports whether r's host is not a loopback one: its cookies are
// then Secure and carry the __Host- prefix.
func secure(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func cookieName(r *http.Request, base string) string {
	if secure(r) {
		return hostPrefix + base
	}
	return base
}

func setCookie(w http.ResponseWriter, r *http.Request, base, value string, expires time.Time) {
	// Secure everywhere but on a loopback host (plain http in development).
	c := &http.Cookie{Name: cookieName(r, base), Value: value, Path: "/", HttpOnly: true, //nolint:gosec // G124: see above
		Secure: secure(r), SameSite: http.SameSiteLaxMode}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = int(time.Until(expires).Seconds()) + 1
	}
	http.SetCookie(w, c)
}

func cookieValue(r *http.Request, base string) string {
	c, err := r.Cookie(cookieName(r, base))
	if err != nil {
		return ""
	}
	return c.Value
}

// browser is the browser's signed-in state: the principal of its session
// cookie (an access token of a session row, so the session is listed in
// GET /auth/sessions and ends with logout, password change and `user
// logout`), or nil.
func (p *Pages) browser(w http.ResponseWriter, r *http.Request) *domain.Principal {
	tok := cookieValue(r, sessionCookie)
	if tok == "" {
		return nil
	}
	pr, err := p.deps.Auth.Authenticate(r.Context(), tok)
	if err != nil || pr.EnrollmentOnly {
		setCookie(w, r, sessionCookie, "", time.Time{})
		return nil
	}
	if p.expired(pr) {
		_ = p.deps.Auth.Logout(r.Context(), pr, domain.LogoutLocal) // the row goes; a failure leaves it to expire
		setCookie(w, r, sessionCookie, "", time.Time{})
		return nil
	}
	// Past half its life the token is renewed (same session and auth_time;
	// never past the session's end), so an active browser stays signed in.
	c := pr.Claims
	if p.deps.Clock().After(c.IssuedAt.Add(c.ExpiresAt.Sub(c.IssuedAt) / 2)) {
		if nt, err := p.deps.Auth.Refresh(r.Context(), tok); err == nil {
			setCookie(w, r, sessionCookie, nt.Token, nt.Claims.ExpiresAt)
		}
	}
	return pr
}

// expired reports whether the browser's sign-in is older than the
// configured session lifetime.
func (p *Pages) expired(pr *domain.Principal) bool {
	return p.deps.SessionLifetime > 0 && p.deps.Clock().Sub(pr.Claims.AuthTime) > p.deps.SessionLifetime
}

// EndSession ends the browser session of r when it is userID's: the
// provider's RP-initiated logout. The cookie, no longer naming a session,
// is cleared at the next page.
func (p *Pages) EndSession(r *http.Request, userID int64) error {
	tok := cookieValue(r, sessionCookie)
	if tok == "" {
		return nil
	}
	pr, err := p.deps.Auth.Authenticate(r.Context(), tok)
	if err != nil || pr.Claims.UserID != userID {
		return nil //nolint:nilerr // no valid session of that user: nothing to end
	}
	return p.deps.Auth.Logout(r.Context(), pr, domain.LogoutLocal)
}

// signedIn stores tok as the browser's session.
func signedIn(w http.ResponseWriter, r *http.Request, tok *domain.AccessToken) {
	setCookie(w, r, sessionCookie, tok.Token, tok.Claims.ExpiresAt)
}

// csrfToken returns the browser's form token, setting its cookie first
// when it has none. Forms carry it in a hidden field; a post whose field
// differs from the cookie is refused (double submit), for browsers that
// send no Fetch metadata or Origin.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if v := cookieValue(r, csrfCookie); len(v) == 43 {
		return v
	}
	v := domain.RandomToken(32)
	c := &http.Cookie{Name: cookieName(r, csrfCookie), Value: v, Path: "/", HttpOnly: true, //nolint:gosec // G124: Secure but on loopback
		Secure: secure(r), SameSite: http.SameSiteStrictMode}
	http.SetCookie(w, c)
	r.AddCookie(c)
	return v
}

// csrfOK checks a posted form's token against the cookie.
func csrfOK(r *http.Request) bool { return csrfMatches(r, r.PostFormValue("csrf")) }

// csrfMatches checks a presented token (a form field, the passkey script's
// X-CSRF-Token header) against the cookie, in constant time.
func csrfMatches(r *http.Request, presented string) bool {
	c := cookieValue(r, csrfCookie)
	return c != "" && subtle.ConstantTimeCompare([]byte(c), []byte(presented)) == 1
}

func peerIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}
