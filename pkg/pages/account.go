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
	v := view{CSRF: csrfToken(w, r), User: pr.Claims.Username,
		AuthTime: pr.Claims.AuthTime.UTC().Truncate(time.Second), SessionID: pr.Claims.SessionID,
		Notice: noticeOf(r.URL.Query().Get("done"))}
	if p.deps.Passkeys != nil {
		keys, err := p.deps.Passkeys.List(r.Context(), pr)
		if err != nil {
			p.deps.Logger.Error().Err(err).Msg("account page: passkeys not read")
			p.render(w, http.StatusServiceUnavailable, "error.html", view{Error: domain.MsgPagesFailed})
			return
		}
		v.PasskeyList = keys
	}
	if p.deps.Federation != nil {
		ids, err := p.deps.Federation.Identities(r.Context(), pr)
		if err != nil {
			p.deps.Logger.Error().Err(err).Msg("account page: identities not read")
			p.render(w, http.StatusServiceUnavailable, "error.html", view{Error: domain.MsgPagesFailed})
			return
		}
		v.Identities = ids
		q := r.URL.Query()
		if name := q.Get("linked"); name != "" && q.Get("error") == "" {
			v.Notice = domain.MsgPagesIdentityLinked
		}
		if reason := q.Get("error"); reason != "" { // our own reason codes only: the text is ours
			v.Error = federationMessage(reason)
		}
	}
	if p.deps.OIDC != nil {
		cs, err := p.deps.OIDC.Consents(r.Context(), pr.Claims.UserID)
		if err != nil {
			p.oidcError(w, err)
			return
		}
		v.Consents = cs
	}
	p.render(w, http.StatusOK, "account.html", v)
}

// noticeOf is the account page's message after an action (a fixed set:
// nothing from the query string is shown).
func noticeOf(done string) string {
	switch done {
	case "consent_revoked":
		return domain.MsgPagesConsentRevoked
	case "identity_unlinked":
		return domain.MsgPagesIdentityUnlinked
	}
	return ""
}

// revokeConsent forgets the signed-in user's consent to an app and
// revokes the app's tokens.
func (p *Pages) revokeConsent(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.accountForm(w, r)
	if !ok {
		return
	}
	if p.deps.OIDC == nil {
		p.render(w, http.StatusNotFound, "error.html", view{Error: domain.MsgPagesNoProvider})
		return
	}
	err := p.deps.OIDC.RevokeConsent(r.Context(), pr.Claims.UserID, r.PostFormValue("client_id"))
	if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND { // already gone: the same outcome
		p.oidcError(w, err)
		return
	}
	http.Redirect(w, r, "/account?done=consent_revoked", http.StatusSeeOther)
}

// accountForm checks a form posted from the account page (CSRF, the
// per-IP limit) and returns the signed-in browser's principal; a browser
// not signed in goes to the sign-in page. False when it has answered.
func (p *Pages) accountForm(w http.ResponseWriter, r *http.Request) (*domain.Principal, bool) {
	if _, ok := p.form(w, r); !ok {
		return nil, false
	}
	pr := p.browser(w, r)
	if pr == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil, false
	}
	return pr, true
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
