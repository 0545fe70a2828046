package pages

import (
	"net/http"
	"slices"

	"github.com/authsvc/authsvc/pkg/domain"
)

// request loads the pending OpenID Connect request id; on failure it has
// rendered an error page (never a redirect: the request's redirect_uri is
// not known to be registered).
func (p *Pages) request(w http.ResponseWriter, r *http.Request, id string) (*domain.OIDCAuthRequest, bool) {
	if p.deps.OIDC == nil {
		p.render(w, http.StatusNotFound, "error.html", view{Error: domain.MsgPagesNoProvider})
		return nil, false
	}
	ar, err := p.deps.OIDC.AuthRequest(r.Context(), id)
	if err != nil {
		p.oidcError(w, err)
		return nil, false
	}
	return ar, true
}

func (p *Pages) oidcError(w http.ResponseWriter, err error) {
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		p.render(w, http.StatusNotFound, "error.html", view{Error: domain.MsgPagesNoRequest})
		return
	}
	p.deps.Logger.Error().Err(err).Msg("sign-in page: provider failed")
	p.render(w, http.StatusServiceUnavailable, "error.html", view{Error: domain.MsgPagesFailed})
}

// proceed finishes request ar for the signed-in browser c: asks for
// consent when the provider needs it, else completes the request.
func (p *Pages) proceed(w http.ResponseWriter, r *http.Request, ar *domain.OIDCAuthRequest, c *domain.Claims, v view) {
	need, err := p.deps.OIDC.ConsentNeeded(r.Context(), ar, c.UserID)
	if err != nil {
		p.oidcError(w, err)
		return
	}
	if need {
		if slices.Contains(ar.Prompt, "none") {
			p.fail(w, r, ar.ID, "consent_required", "the user has not consented")
			return
		}
		v.Request, v.Client, v.Scopes, v.User = ar.ID, ar.ClientName, ar.Scopes, c.Username
		p.render(w, http.StatusOK, "consent.html", v)
		return
	}
	p.complete(w, r, ar.ID, c)
}

func (p *Pages) complete(w http.ResponseWriter, r *http.Request, id string, c *domain.Claims) {
	amr := c.AMR
	if len(amr) == 0 {
		amr = []string{domain.AMRPassword}
	}
	to, err := p.deps.OIDC.Complete(r.Context(), id, domain.BrowserSignIn{UserID: c.UserID, SessionID: c.SessionID,
		AuthTime: c.AuthTime, AMR: amr})
	if err != nil {
		p.oidcError(w, err)
		return
	}
	p.next(w, r, to)
}

// next sends the browser on to the provider's URL to (its callback, or the
// client's registered redirect_uri). After a form post it is a page that
// moves on by itself (meta refresh, with a link): a redirect answering a
// form would be checked against the pages' CSP form-action 'self', which
// the client's own site is not.
func (p *Pages) next(w http.ResponseWriter, r *http.Request, to string) {
	if r.Method == http.MethodGet {
		http.Redirect(w, r, to, http.StatusSeeOther) //nolint:gosec // G710: from the provider, never from the request
		return
	}
	p.render(w, http.StatusOK, "continue.html", view{Next: to})
}

// fail ends request id with an OAuth error; the provider redirects to the
// request's registered redirect_uri.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, id, code, desc string) {
	to, err := p.deps.OIDC.Fail(r.Context(), id, code, desc)
	if err != nil {
		p.oidcError(w, err)
		return
	}
	p.next(w, r, to)
}

// consent records the signed-in user's answer to the consent page.
func (p *Pages) consent(w http.ResponseWriter, r *http.Request) {
	v, ok := p.form(w, r)
	if !ok {
		return
	}
	pr := p.browser(w, r)
	if pr == nil {
		http.Redirect(w, r, signinURL(v.Request), http.StatusSeeOther)
		return
	}
	ar, ok := p.request(w, r, v.Request)
	if !ok {
		return
	}
	if r.PostFormValue("decision") != "allow" {
		p.fail(w, r, ar.ID, "access_denied", "the user declined")
		return
	}
	if err := p.deps.OIDC.GrantConsent(r.Context(), ar, pr.Claims.UserID); err != nil {
		p.oidcError(w, err)
		return
	}
	p.complete(w, r, ar.ID, pr.Claims)
}
