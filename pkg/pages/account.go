package pages

import (
	"net/http"
	"net/url"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// signinURL is the local sign-in page, for request id when not empty.
func signinURL(id string) string {
	if id == "" {
		return "/signin"
	}
	return "/signin?request=" + url.QueryEscape(id)
}

// account shows who is signed in, with sign out.
func (p *Pages) account(w http.ResponseWriter, r *http.Request) {
	pr := p.browser(w, r)
	if pr == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	p.render(w, http.StatusOK, "account.html", view{CSRF: csrfToken(w, r), User: pr.Claims.Username,
		AuthTime: pr.Claims.AuthTime.UTC().Truncate(time.Second), SessionID: pr.Claims.SessionID})
}

// signoutPage asks to confirm (a GET never signs out: a link on another
// site must not).
func (p *Pages) signoutPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "signout.html", view{CSRF: csrfToken(w, r)})
}

// signout ends the browser's session (the sessions row, so every app
// signed in through it) and clears the cookie.
func (p *Pages) signout(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.form(w, r); !ok {
		return
	}
	if pr := p.browser(w, r); pr != nil {
		if err := p.deps.Auth.Logout(r.Context(), pr, domain.LogoutLocal); err != nil {
			p.deps.Logger.Error().Err(err).Msg("sign-out failed")
			p.render(w, http.StatusServiceUnavailable, "error.html", view{Error: domain.MsgPagesFailed})
			return
		}
	}
	setCookie(w, r, sessionCookie, "", time.Time{})
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
