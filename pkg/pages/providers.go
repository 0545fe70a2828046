package pages

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
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
	verifier := oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	to, err := p.deps.Federation.Start(r.Context(), r.PostFormValue("provider"), back, base64.RawURLEncoding.EncodeToString(sum[:]))
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
	if reason := q.Get("error"); reason != "" { // our own reason codes; the description is not shown (it is in the URL)
		p.federationRefused(w, r, v, &domain.Error{Code: domain.EUNAUTHORIZED, Reason: reason, Message: domain.MsgProviderDenied})
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
	v.Error = domain.MsgProviderDenied
	if m, ok := federationMessages[domain.ErrorReason(err)]; ok {
		v.Error = m
	}
	p.render(w, status, "signin.html", v)
}
