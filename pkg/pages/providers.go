package pages

import (
	"cmp"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Sign-in through an upstream identity provider on the hosted pages. The
// pages are an app of the JSON API's flow like any other: the button starts
// a flow whose PKCE verifier stays in an HttpOnly cookie of this browser,
// the provider's callback sends the browser to /signin/federated with a
// one-time code, and that code with the cookie's verifier signs in. A code
// planted in another browser (login CSRF) finds no verifier that matches.

const (
	federationCookie = "authsvc_federation"
	federatedPath    = "/signin/federated"
	linkedPath       = "/account/identities/linked"
	// reasonSignInAgain is the account page's error for a link refused for
	// want of a recent sign-in (the pages ask no password there).
	reasonSignInAgain = "sign_in_again"
)

// signinProvider starts a sign-in at the provider of the pressed button.
func (p *Pages) signinProvider(w http.ResponseWriter, r *http.Request) {
	v, ok := p.form(w, r)
	if !ok {
		return
	}
	if p.deps.Federation == nil {
		p.render(w, http.StatusNotFound, "signin.html", view{CSRF: v.CSRF, Request: v.Request, Error: domain.MsgProviderNotFound})
		return
	}
	back := federatedPath
	if v.Request != "" {
		back += "?" + url.Values{"request": {v.Request}}.Encode()
	}
	verifier, challenge := pkce()
	to, err := p.deps.Federation.Start(r.Context(), r.PostFormValue("provider"), back, challenge)
	if err != nil {
		p.federationRefused(w, r, v, err)
		return
	}
	setCookie(w, r, federationCookie, verifier, p.deps.Clock().Add(domain.FederationFlowTTL+time.Minute))
	// Not a redirect: the page's CSP (form-action 'self') forbids a form
	// post to end at another origin; the continue page navigates there.
	p.render(w, http.StatusOK, "continue.html", view{Next: to, Title: "Continuing to " + p.label(r.PostFormValue("provider"))})
}

// label is the provider's button text.
func (p *Pages) label(name string) string {
	for _, pr := range p.deps.Federation.Providers() {
		if pr.Name == name {
			return pr.Label
		}
	}
	return name
}

// signinFederated finishes it: the one-time code and this browser's
// verifier sign in, or the provider's refusal is shown.
func (p *Pages) signinFederated(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := view{CSRF: csrfToken(w, r), Request: q.Get("request")}
	verifier := cookieValue(r, federationCookie)
	setCookie(w, r, federationCookie, "", time.Time{})
	if p.deps.Federation == nil {
		p.render(w, http.StatusNotFound, "signin.html", view{CSRF: v.CSRF, Request: v.Request, Error: domain.MsgProviderNotFound})
		return
	}
	if reason := q.Get("error"); reason != "" { // shown in our words only: the description is in the URL
		v.Error = federationMessage(reason)
		p.render(w, http.StatusUnauthorized, "signin.html", v)
		return
	}
	if verifier == "" {
		p.render(w, http.StatusBadRequest, "signin.html", view{CSRF: v.CSRF, Request: v.Request, Error: domain.MsgPagesBadForm})
		return
	}
	tok, err := p.deps.Federation.Exchange(r.Context(), q.Get("code"), verifier)
	if err != nil {
		p.federationRefused(w, r, v, err)
		return
	}
	if tok.MFA != nil {
		v.MFAToken = tok.MFA.Token
		p.render(w, http.StatusOK, "mfa.html", v)
		return
	}
	p.finish(w, r, v, tok)
}

// federationMessages are the pages' words for a refused provider sign-in,
// by reason; anything else is the generic refusal.
var federationMessages = map[string]string{
	domain.ReasonIdentityExists:       domain.MsgIdentityExists,
	domain.ReasonIdentityTaken:        domain.MsgIdentityTaken,
	domain.ReasonEmailDomain:          domain.MsgEmailDomainNotAllowed,
	domain.ReasonFederatedSignUpOff:   domain.MsgFederatedSignUpOff,
	domain.ReasonProviderEmail:        domain.MsgProviderEmailMissing,
	domain.ReasonProviderUnavailable:  domain.MsgProviderUnavailable,
	domain.ReasonProviderNotFound:     domain.MsgProviderNotFound,
	domain.ReasonProviderFailed:       domain.MsgProviderFailed,
	domain.ReasonFederationCode:       domain.MsgPagesBadForm,
	domain.ReasonFederationVerifier:   domain.MsgPagesBadForm,
	domain.ReasonFederationState:      domain.MsgPagesBadForm,
	domain.ErrEmailNotVerified.Reason: domain.MsgPagesUnverified,
	domain.ReasonLastSignInMethod:     domain.MsgLastSignInMethod,
	domain.ReasonIdentityNotFound:     domain.MsgIdentityNotFound,
	reasonSignInAgain:                 domain.MsgPagesLinkSignInAgain,
}

// federationRefused shows the sign-in page with the refusal's message and
// the status the JSON API would answer.
func (p *Pages) federationRefused(w http.ResponseWriter, r *http.Request, v view, err error) {
	status := http.StatusUnauthorized
	switch domain.ErrorCode(err) {
	case domain.ECONFLICT:
		status = http.StatusConflict
	case domain.EFORBIDDEN:
		status = http.StatusForbidden
	case domain.ENOTFOUND:
		status = http.StatusNotFound
	case domain.EINVALID, domain.EVALIDATION:
		status = http.StatusBadRequest
	case domain.ERATELIMIT:
		status = http.StatusTooManyRequests
	case domain.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	case domain.EUNAUTHORIZED:
	default:
		p.deps.Logger.Error().Err(err).Msg("sign-in through a provider failed")
		v.Error = domain.MsgPagesFailed
		p.render(w, http.StatusServiceUnavailable, "signin.html", v)
		return
	}
	v.Error = federationMessage(domain.ErrorReason(err))
	p.render(w, status, "signin.html", v)
}

// federationMessage is the pages' words for a refusal's reason.
func federationMessage(reason string) string {
	if m, ok := federationMessages[reason]; ok {
		return m
	}
	return domain.MsgProviderDenied
}

// linkIdentity starts linking a provider to the signed-in browser's
// account (a sign-in of the last 5 minutes). Like the sign-in button, the
// flow's PKCE verifier stays in this browser's cookie; it comes back to
// /account/identities/linked with a code only this browser's user can
// redeem.
func (p *Pages) linkIdentity(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.accountForm(w, r)
	if !ok {
		return
	}
	if p.deps.Federation == nil {
		p.render(w, http.StatusNotFound, "error.html", view{Error: domain.MsgProviderNotFound})
		return
	}
	name := r.PostFormValue("provider")
	verifier, challenge := pkce()
	to, err := p.deps.Federation.StartLink(r.Context(), pr, name, "", linkedPath, challenge)
	if err != nil {
		p.accountRefused(w, r, err)
		return
	}
	setCookie(w, r, federationCookie, verifier, p.deps.Clock().Add(domain.FederationFlowTTL+time.Minute))
	p.render(w, http.StatusOK, "continue.html", view{Next: to, Title: "Continuing to " + p.label(name)})
}

// linkedIdentity finishes a link: the code, this browser's verifier and
// its signed-in user (who must be the one who started it).
func (p *Pages) linkedIdentity(w http.ResponseWriter, r *http.Request) {
	verifier := cookieValue(r, federationCookie)
	setCookie(w, r, federationCookie, "", time.Time{})
	pr := p.browser(w, r)
	if pr == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	if reason := q.Get("error"); reason != "" || p.deps.Federation == nil {
		http.Redirect(w, r, "/account?"+url.Values{"error": {cmp.Or(reason, domain.ReasonProviderNotFound)}}.Encode(), http.StatusSeeOther)
		return
	}
	name, err := p.deps.Federation.ExchangeLink(r.Context(), pr, q.Get("code"), verifier)
	if err != nil {
		p.accountRefused(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?"+url.Values{"linked": {name}}.Encode(), http.StatusSeeOther)
}

// unlinkIdentity unlinks one of the signed-in browser's identities.
func (p *Pages) unlinkIdentity(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.accountForm(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || p.deps.Federation == nil {
		p.accountRefused(w, r, domain.ErrIdentityNotFound)
		return
	}
	if err := p.deps.Federation.Unlink(r.Context(), pr, id); err != nil {
		p.accountRefused(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?done=identity_unlinked", http.StatusSeeOther)
}

// accountRefused goes back to the account page with the refusal's words
// (a server failure is logged and shown as such).
func (p *Pages) accountRefused(w http.ResponseWriter, r *http.Request, err error) {
	switch domain.ErrorCode(err) {
	case domain.EUNAVAILABLE, domain.EINTERNAL, "":
		p.deps.Logger.Error().Err(err).Msg("account page: identity change failed")
		p.render(w, http.StatusServiceUnavailable, "error.html", view{Error: domain.MsgPagesFailed})
		return
	}
	reason := domain.ErrorReason(err)
	if domain.ErrorCode(err) == domain.EVALIDATION || reason == domain.ReasonRecentSignIn { // the step-up: no recent sign-in
		reason = reasonSignInAgain
	}
	http.Redirect(w, r, "/account?"+url.Values{"error": {reason}}.Encode(), http.StatusSeeOther)
}

// pkce returns a PKCE verifier and its S256 challenge (RFC 7636).
func pkce() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	return verifier, oauth2.S256ChallengeFromVerifier(verifier)
}
